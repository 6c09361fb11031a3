"""Explain for agents: an MCP tool call's decision is found by tool, explained to its
caller, and its recorded policy input keeps the tool but never the arguments."""

from __future__ import annotations

import httpx

from tests.mcp.conftest import Agent, audit_events, reason_of
from tests.support.issuer import TokenIssuer


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
