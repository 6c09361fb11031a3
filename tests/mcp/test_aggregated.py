"""``/mcp``: every server the caller may use, as one server with ``server__name`` names."""

from __future__ import annotations

import httpx

from tests.mcp.conftest import MODERN, Agent, answer_of, reason_of
from tests.support.issuer import TokenIssuer
from tests.support.mcp_servers import McpServers


def agent(
    client: httpx.AsyncClient, issuer: TokenIssuer, sub: str, roles: list[str], version: str = "2025-11-25"
) -> Agent:
    return Agent(client, issuer.mint(sub=sub, roles=roles), "/mcp", version)


async def test_one_session_over_the_servers_a_role_may_reach(
    mcp_gateway: httpx.AsyncClient, token_issuer: TokenIssuer
) -> None:
    developer = agent(mcp_gateway, token_issuer, "a-dev", ["developer"])
    init = (await developer.initialize()).json()["result"]
    assert init["serverInfo"]["name"] == "skein" and "tools" in init["capabilities"]
    assert await developer.tool_names() == [
        "developer__shell",
        "developer__text_editor",
        "developer__analyze",
        "github__list_issues",
        "github__create_issue",
        "github__merge_pr",
    ]
    finance = agent(mcp_gateway, token_issuer, "a-fin", ["finance"])
    await finance.initialize()  # finance has no developer extension: only github is reached
    assert await finance.tool_names() == ["github__list_issues", "github__get_issue", "github__create_issue"]
    prompts = (await developer.call("prompts/list"))["result"]["prompts"]
    assert [p["name"] for p in prompts] == ["developer__review"]
    assert (await finance.call("prompts/list"))["result"]["prompts"] == []


async def test_calls_are_routed_by_their_server_prefix(
    mcp_gateway: httpx.AsyncClient, token_issuer: TokenIssuer, mcp_servers: McpServers
) -> None:
    developer = agent(mcp_gateway, token_issuer, "a-dev2", ["developer"])
    await developer.initialize()
    shell = await developer.tool("developer__shell", {"command": "echo hi"})
    assert shell["result"]["content"][0]["text"] == "ran: echo hi"
    issues = await developer.tool("github__list_issues", {"query": "bug"})
    assert issues["result"]["content"][0]["text"] == "no issues match bug"
    assert mcp_servers.received.last_call("github") == ("list_issues", {"query": "bug"})
    prompt = await developer.call(
        "prompts/get", {"name": "developer__review", "arguments": {"code": "x = 1"}}
    )
    assert "x = 1" in str(prompt["result"]["messages"])
    resources = (await developer.call("resources/list"))["result"]["resources"]
    assert [r["uri"] for r in resources] == ["notes://readme"]
    read = await developer.call("resources/read", {"uri": "notes://readme"})
    assert read["result"]["contents"][0]["text"] == "the team readme"


async def test_a_hidden_tool_is_refused_unnamespaced_and_in_any_case(
    mcp_gateway: httpx.AsyncClient, token_issuer: TokenIssuer, mcp_servers: McpServers
) -> None:
    finance = agent(mcp_gateway, token_issuer, "a-fin2", ["finance"])
    await finance.initialize()
    shells_before = mcp_servers.received.calls_of("developer", "shell")
    assert "developer__shell" not in await finance.tool_names()
    refused = {
        spelling: await finance.tool(spelling, {"command": "ls"})
        for spelling in (
            "developer__shell",
            "shell",
            "Developer__shell",
            "DEVELOPER__SHELL",
            "developer__Shell",
        )
    }
    assert reason_of(refused["developer__shell"]) == "tool_denied"
    assert reason_of(refused["shell"]) == "mcp_unknown_tool"
    assert reason_of(refused["Developer__shell"]) == "mcp_unknown_tool"  # no server "Developer"
    assert reason_of(refused["DEVELOPER__SHELL"]) == "mcp_unknown_tool"
    assert reason_of(refused["developer__Shell"]) == "tool_denied"  # finance denies developer__*
    assert mcp_servers.received.calls_of("developer", "shell") == shells_before
    developer = agent(mcp_gateway, token_issuer, "a-dev3", ["developer"])
    await developer.initialize()
    for spelling in ("github__delete_repo", "github__Delete_repo", "delete_repo", "github__merge_PR"):
        assert "error" in await developer.tool(spelling, {"name": "x", "number": 1}), spelling
    assert mcp_servers.received.calls_of("github", "delete_repo") == 0


async def test_a_legacy_request_needs_a_session(
    mcp_gateway: httpx.AsyncClient, token_issuer: TokenIssuer
) -> None:
    developer = agent(mcp_gateway, token_issuer, "a-dev4", ["developer"])
    response = await developer.post(developer.message("tools/list"))
    assert response.status_code == 400
    assert response.json()["error"]["data"]["reason"] == "mcp_session_required"


async def test_the_stateless_revision_needs_no_session(
    mcp_gateway: httpx.AsyncClient, token_issuer: TokenIssuer
) -> None:
    developer = agent(mcp_gateway, token_issuer, "a-dev5", ["developer"], version=MODERN)
    discovered = await developer.call("server/discover")
    assert discovered["result"]["supportedVersions"] == [MODERN]
    listing = await developer.call("tools/list")
    assert listing["result"]["cacheScope"] == "private"  # filtered for this caller
    assert "github__merge_pr" in [t["name"] for t in listing["result"]["tools"]]
    shell = await developer.tool("developer__shell", {"command": "pwd"})
    assert shell["result"]["content"][0]["text"] == "ran: pwd"
    denied = await developer.tool("developer__shell", {"command": "sh -c id"})
    assert reason_of(denied) == "tool_arguments_denied"


async def test_session_end_closes_every_upstream_session(
    mcp_gateway: httpx.AsyncClient, token_issuer: TokenIssuer
) -> None:
    developer = agent(mcp_gateway, token_issuer, "a-dev6", ["developer"])
    await developer.initialize()
    assert await developer.tool_names()
    assert (await mcp_gateway.delete("/mcp", headers=developer.request_headers())).status_code == 200
    after = await developer.post(
        developer.message("tools/call", {"name": "github__list_issues", "arguments": {"query": "x"}})
    )
    assert after.status_code == 404
    ping = developer.message("ping")  # the gateway's own side of the session still answers
    assert answer_of(await developer.post(ping)) == {"jsonrpc": "2.0", "id": ping["id"], "result": {}}


async def test_a_server_request_cannot_be_answered_on_the_aggregated_endpoint(
    mcp_gateway: httpx.AsyncClient, token_issuer: TokenIssuer
) -> None:
    developer = agent(mcp_gateway, token_issuer, "a-dev7", ["developer"])
    await developer.initialize()
    for body in (
        {"jsonrpc": "2.0", "id": "srv-1", "result": {}},
        [{"jsonrpc": "2.0", "id": "srv-2", "result": {}}],
    ):
        response = await developer.post(body)
        assert response.status_code == 400, body
        assert response.json()["error"]["data"]["reason"] == "mcp_unroutable"
