"""Explain and shadow for agents: an MCP tool call's decision is found by tool, explained to
its caller, its recorded policy input keeps the tool but never the arguments, and a shadow
bundle is asked about tool calls as about model calls."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from gateway.metrics import Metrics
from guard import Guard
from tests.bundle.helpers import workspace
from tests.mcp.conftest import GITHUB_TOKEN_ENV, Agent, audit_events, mcp_settings, reason_of
from tests.support.gateway import running_gateway
from tests.support.issuer import TokenIssuer
from tests.support.mcp_servers import UPSTREAM_TOKEN, McpServers


async def test_a_tool_call_is_searchable_by_tool_and_explained_without_its_arguments(
    mcp_gateway: httpx.AsyncClient, token_issuer: TokenIssuer
) -> None:
    developer = Agent(mcp_gateway, token_issuer.mint(sub="p-explain", roles=["developer"]), "/mcp/developer")
    await developer.initialize()
    await developer.tool("shell", {"command": "ls secret-project"})
    assert reason_of(await developer.tool("shell", {"command": "rm -rf /"})) == "tool_arguments_denied"
    await audit_events(mcp_gateway, token_issuer, 2, sub="p-explain", tool="shell")

    auditor = {"authorization": f"Bearer {token_issuer.mint(sub='carol', roles=['auditor'])}"}
    found = (await mcp_gateway.get("/v1/decisions?tool=shell&sub=p-explain", headers=auditor)).json()
    assert [(d["tool"], d["allow"]) for d in found["decisions"]] == [("shell", False), ("shell", True)]

    denied = found["decisions"][0]["decision_id"]
    caller = {"authorization": developer.request_headers()["authorization"]}
    response = await mcp_gateway.get(f"/v1/decisions/{denied}", headers=caller)
    assert response.status_code == 200
    body = response.json()
    assert body["reasons"][0]["code"] == "tool_arguments_denied" and body["reasons"][0]["message"]
    recorded = body["policy_input"]
    assert recorded["action"] == "tools.call" and recorded["resource"]["tool"] == "shell"
    assert recorded["redacted"] == ["resource.arguments"] and "arguments" not in recorded["resource"]
    assert "rm -rf" not in response.text and "secret-project" not in response.text


SHELL_FROZEN = """
deny contains reason("tool_frozen", "the shell tool is frozen") if {
	input.action == "tools.call"
	input.resource.server == "developer"
	input.resource.tool == "shell"
}
"""


async def test_the_shadow_bundle_sees_tool_calls_too(
    tmp_path: Path,
    token_issuer: TokenIssuer,
    mcp_servers: McpServers,
    guard: Guard,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ws = workspace(tmp_path / "ws")
    with (ws.policies / "mcp.rego").open("a") as rego:
        rego.write(SHELL_FROZEN)
    (tmp_path / "shadow.tar.gz").write_bytes(ws.build("shell-frozen", signed=False))
    monkeypatch.setenv(GITHUB_TOKEN_ENV, UPSTREAM_TOKEN)
    settings = mcp_settings(
        tmp_path / "state", token_issuer, mcp_servers, bundle={"shadow_path": tmp_path / "shadow.tar.gz"}
    )
    async with running_gateway(settings, guard=guard) as client:
        developer = Agent(client, token_issuer.mint(sub="p-shadow", roles=["developer"]), "/mcp/developer")
        await developer.initialize()
        answer = await developer.tool("shell", {"command": "ls"})
        assert answer["result"]["content"][0]["text"] == "ran: ls"  # served by the active bundle
        metrics: Metrics = client.app_state["gateway"].metrics  # type: ignore[attr-defined]
        sample = metrics.registry.get_sample_value
        for _ in range(100):
            if sample("skein_shadow_disagreements_total", {"kind": "allow_to_deny"}):
                break
            await asyncio.sleep(0.02)
        assert sample("skein_shadow_disagreements_total", {"kind": "allow_to_deny"}) == 1
