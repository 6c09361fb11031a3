"""Agent set-up routes (goose's allowlist, the caller's profile) and the MCP metrics."""

from __future__ import annotations

import httpx
import yaml

from tests.mcp.conftest import Agent
from tests.support.issuer import TokenIssuer


def auth(issuer: TokenIssuer, sub: str, roles: list[str]) -> dict[str, str]:
    return {"authorization": f"Bearer {issuer.mint(sub=sub, roles=roles)}"}


async def test_the_goose_allowlist_follows_the_role(
    mcp_gateway: httpx.AsyncClient, token_issuer: TokenIssuer
) -> None:
    developer = await mcp_gateway.get(
        "/goose/allowlist.yaml", headers=auth(token_issuer, "g-dev", ["developer"])
    )
    assert developer.status_code == 200 and developer.headers["content-type"].startswith("application/yaml")
    assert yaml.safe_load(developer.text) == {
        "extensions": [
            {"id": "agent_mesh", "command": "http://skein.test/mcp/agent_mesh"},  # the gateway's own mesh
            {"id": "developer", "command": "http://skein.test/mcp/developer"},
            {"id": "github", "command": "uvx mcp-github"},  # its goose_command: a local install
        ]
    }
    finance = yaml.safe_load(
        (
            await mcp_gateway.get("/goose/allowlist.yaml", headers=auth(token_issuer, "g-fin", ["finance"]))
        ).text
    )
    assert [e["id"] for e in finance["extensions"]] == ["agent_mesh", "github"]
    legal = yaml.safe_load(
        (await mcp_gateway.get("/goose/allowlist.yaml", headers=auth(token_issuer, "g-leg", ["legal"]))).text
    )
    assert [e["id"] for e in legal["extensions"]] == ["agent_mesh"]  # legal uses the mesh only
    assert (await mcp_gateway.get("/goose/allowlist.yaml")).status_code == 401
    unknown = await mcp_gateway.get("/goose/allowlist.yaml", headers=auth(token_issuer, "g-x", ["intern"]))
    assert unknown.status_code == 403


async def test_profiles_me_is_the_callers_own_view(
    mcp_gateway: httpx.AsyncClient, token_issuer: TokenIssuer
) -> None:
    response = await mcp_gateway.get(
        "/profiles/me", headers=auth(token_issuer, "g-fin2", ["finance", "intern"])
    )
    assert response.status_code == 200
    view = response.json()
    assert (view["sub"], view["roles"]) == ("g-fin2", ["finance"])
    (finance,) = view["profiles"]
    assert finance["privacy"]["mode"] == "pseudonymize"
    assert "developer__*" in finance["tools"]["deny"]
    assert {e["name"] for e in finance["extensions"]} >= {"github", "agent_mesh"}
    assert "gpt-4o-mini" in view["models"] and "gpt-4o" not in view["models"]
    assert view["mcp"] == {
        "aggregated": "http://skein.test/mcp",
        "servers": {
            "agent_mesh": "http://skein.test/mcp/agent_mesh",
            "github": "http://skein.test/mcp/github",
        },
    }
    assert "Finance" in finance["goosehints"]  # the role's context for its agents


async def test_tool_calls_are_counted_by_server_tool_and_outcome(
    mcp_gateway: httpx.AsyncClient, token_issuer: TokenIssuer
) -> None:
    developer = Agent(mcp_gateway, token_issuer.mint(sub="g-dev3", roles=["developer"]), "/mcp/developer")
    await developer.initialize()
    await developer.tool("shell", {"command": "ls"})
    await developer.tool("shell", {"command": "rm x"})
    await developer.call("tools/list")
    metrics = (await mcp_gateway.get("/metrics")).text
    assert 'skein_tool_calls_total{decision="allow",server="developer",tool="shell"}' in metrics
    assert 'skein_tool_calls_total{decision="deny",server="developer",tool="shell"}' in metrics
    assert 'skein_mcp_messages_total{decision="allow",method="tools/list",server="developer"}' in metrics
    assert 'skein_tools_hidden_total{server="developer"}' in metrics  # wipe is hidden


def test_the_overview_dashboard_shows_tool_calls_and_denials() -> None:
    import json
    from pathlib import Path

    from tests.test_grafana import metric_names, panels

    dashboard = json.loads((Path(__file__).parents[2] / "grafana/dashboards/skein-overview.json").read_text())
    exprs = {p["title"]: [t["expr"] for t in p.get("targets", [])] for p in panels(dashboard["panels"])}
    calls = exprs["Tool calls by server and tool"]
    denied = exprs["Tool calls denied or waiting for approval"]
    assert metric_names(calls[0]) == metric_names(denied[0]) == {"skein_tool_calls_total"}
    assert 'decision=~"deny|approval"' in denied[0]
