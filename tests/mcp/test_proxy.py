"""``/mcp/{server}``: one real MCP server behind the gateway, spoken to in raw JSON-RPC."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from gateway.settings import McpServerSettings
from guard import Guard
from tests.mcp.conftest import ACCEPT, Agent, answer_of, audit_events, reason_of, sse_messages
from tests.support.gateway import make_settings, running_gateway
from tests.support.issuer import TokenIssuer
from tests.support.mcp_servers import UPSTREAM_TOKEN, McpServers


def agent(client: httpx.AsyncClient, issuer: TokenIssuer, sub: str, roles: list[str], server: str) -> Agent:
    return Agent(client, issuer.mint(sub=sub, roles=roles), f"/mcp/{server}")


async def test_listing_shows_only_the_tools_a_role_may_call(
    mcp_gateway: httpx.AsyncClient, token_issuer: TokenIssuer
) -> None:
    developer = agent(mcp_gateway, token_issuer, "p-dev", ["developer"], "github")
    await developer.initialize()
    # merge_pr is listed (it needs an approval, but may be called); get_issue is not in the
    # developer extension's list; delete_repo is in no profile.
    assert await developer.tool_names() == ["list_issues", "create_issue", "merge_pr"]
    finance = agent(mcp_gateway, token_issuer, "p-fin", ["finance"], "github")
    await finance.initialize()
    assert await finance.tool_names() == ["list_issues", "get_issue", "create_issue"]


async def test_a_server_outside_the_profile_is_refused(
    mcp_gateway: httpx.AsyncClient, token_issuer: TokenIssuer
) -> None:
    finance = agent(mcp_gateway, token_issuer, "p-fin2", ["finance"], "developer")
    response = await finance.post(
        finance.message("initialize", {"protocolVersion": "2025-11-25", "capabilities": {}})
    )
    assert reason_of(answer_of(response)) == "server_not_allowed"
    assert "mcp-session-id" not in response.headers


async def test_calls_allowed_denied_and_argument_conditioned(
    mcp_gateway: httpx.AsyncClient, token_issuer: TokenIssuer, mcp_servers: McpServers
) -> None:
    developer = agent(mcp_gateway, token_issuer, "p-dev2", ["developer"], "developer")
    await developer.initialize()
    answer = await developer.tool("shell", {"command": "ls -la src"})
    assert answer["result"]["content"][0]["text"] == "ran: ls -la src"
    assert mcp_servers.received.last_call("developer") == ("shell", {"command": "ls -la src"})

    before = mcp_servers.received.calls_of("developer", "shell")
    denied = await developer.tool("shell", {"command": "rm -rf /"})
    assert reason_of(denied) == "tool_arguments_denied"
    assert denied["error"]["code"] == -32001
    assert mcp_servers.received.calls_of("developer", "shell") == before  # never reached the server


async def test_a_hidden_tool_is_refused_by_name_in_every_spelling(
    mcp_gateway: httpx.AsyncClient, token_issuer: TokenIssuer, mcp_servers: McpServers
) -> None:
    developer = agent(mcp_gateway, token_issuer, "p-dev3", ["developer"], "developer")
    await developer.initialize()
    assert "wipe" not in await developer.tool_names()
    for spelling in ("wipe", "Wipe", "WIPE", "developer__wipe"):
        answer = await developer.tool(spelling, {"path": "/"})
        assert "error" in answer, spelling
    # A name policy allows but the server does not list exactly is refused too: a server
    # that matched names loosely must not run "shell" for "Shell".
    assert reason_of(await developer.tool("Shell", {"command": "ls"})) in (
        "tool_not_allowed",
        "mcp_unknown_tool",
    )
    assert mcp_servers.received.calls_of("developer", "wipe") == 0


async def test_pii_is_masked_upstream_and_restored_inside_the_sse_stream(
    mcp_gateway: httpx.AsyncClient, token_issuer: TokenIssuer, mcp_servers: McpServers
) -> None:
    finance = agent(mcp_gateway, token_issuer, "p-fin3", ["finance"], "github")
    await finance.initialize()
    response = await finance.post(
        finance.message(
            "tools/call",
            {
                "name": "list_issues",
                "arguments": {"query": "invoices of alice@acme.com"},
                "_meta": {"progressToken": 1},
            },
        )
    )
    assert response.headers["content-type"].startswith("text/event-stream")
    messages = sse_messages(response.text)
    progress = [m for m in messages if m.get("method") == "notifications/progress"]
    assert (
        len(progress) == 2 and "alice@acme.com" in progress[0]["params"]["message"]
    )  # restored in events too
    assert messages[-1]["result"]["content"][0]["text"] == "no issues match invoices of alice@acme.com"
    tool, arguments = mcp_servers.received.last_call("github")
    assert tool == "list_issues" and "alice@acme.com" not in arguments["query"]
    assert "EMAIL_ADDRESS" in arguments["query"]  # finance pseudonymizes


async def test_the_upstream_gets_skeins_credential_never_the_callers(
    mcp_gateway: httpx.AsyncClient, token_issuer: TokenIssuer, mcp_servers: McpServers
) -> None:
    start = len(mcp_servers.received.headers)
    finance = agent(mcp_gateway, token_issuer, "p-fin4", ["finance"], "github")
    await finance.initialize()
    await finance.tool("get_issue", {"number": 7})
    developer = agent(mcp_gateway, token_issuer, "p-dev8", ["developer"], "developer")
    await developer.initialize()
    await developer.tool("shell", {"command": "ls"})
    seen = mcp_servers.received.headers[start:]
    github = [headers for server, headers in seen if server == "github"]
    assert github and all(h.get("authorization") == UPSTREAM_TOKEN for h in github)
    dev = [headers for server, headers in seen if server == "developer"]
    assert dev and all("authorization" not in h for h in dev)  # no credential configured: none sent


async def test_a_batch_is_decided_element_by_element(
    mcp_gateway: httpx.AsyncClient, token_issuer: TokenIssuer
) -> None:
    developer = agent(mcp_gateway, token_issuer, "p-dev4", ["developer"], "developer")
    await developer.initialize()
    batch = [
        developer.message("tools/call", {"name": "shell", "arguments": {"command": "pwd"}}),
        developer.message("tools/call", {"name": "shell", "arguments": {"command": "curl evil"}}),
        {"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progressToken": 1, "progress": 1}},
        {"jsonrpc": "1.0", "id": 99, "method": "ping"},
        developer.message("debug/dump"),
    ]
    response = await developer.post(batch)
    assert response.status_code == 200
    answers = {a["id"]: a for a in response.json()}
    assert len(answers) == 4  # the notification has no answer
    ids = [m.get("id") for m in batch]
    assert answers[ids[0]]["result"]["content"][0]["text"] == "ran: pwd"
    assert reason_of(answers[ids[1]]) == "tool_arguments_denied"
    assert answers[99]["error"]["code"] == -32600
    assert reason_of(answers[ids[4]]) == "no_rule_matched"  # unknown methods are denied by default
    events = await audit_events(mcp_gateway, token_issuer, 3, sub="p-dev4", decision="deny")
    assert {e["resource"].get("method") for e in events} >= {"tools/call", "debug/dump"}


async def test_sessions_belong_to_their_caller_and_endpoint(
    mcp_gateway: httpx.AsyncClient, token_issuer: TokenIssuer
) -> None:
    alice = agent(mcp_gateway, token_issuer, "p-alice", ["developer"], "github")
    await alice.initialize()
    assert alice.session
    mallory = agent(mcp_gateway, token_issuer, "p-mallory", ["developer"], "github")
    mallory.session = alice.session
    stolen = await mallory.post(mallory.message("tools/list"))
    assert stolen.status_code == 404
    assert stolen.json()["error"]["data"]["reason"] == "mcp_session_not_found"
    elsewhere = agent(mcp_gateway, token_issuer, "p-alice", ["developer"], "developer")
    elsewhere.session = alice.session
    assert (await elsewhere.post(elsewhere.message("tools/list"))).status_code == 404
    alice_tampered = agent(mcp_gateway, token_issuer, "p-alice", ["developer"], "github")
    alice_tampered.session = alice.session[:-2] + ("AA" if not alice.session.endswith("AA") else "BB")
    assert (await alice_tampered.post(alice_tampered.message("tools/list"))).status_code == 404


async def test_session_end_ends_the_upstream_session(
    mcp_gateway: httpx.AsyncClient, token_issuer: TokenIssuer
) -> None:
    developer = agent(mcp_gateway, token_issuer, "p-dev5", ["developer"], "github")
    await developer.initialize()
    assert (await developer.call("tools/list"))["result"]["tools"]
    ended = await mcp_gateway.delete("/mcp/github", headers=developer.request_headers())
    assert ended.status_code == 200
    after = await developer.post(developer.message("tools/list"))
    assert after.status_code == 404  # the server forgot the session: the client starts a new one
    assert (await mcp_gateway.delete("/mcp/github", headers=developer.headers)).status_code == 400


async def test_protocol_errors_are_json_rpc_with_http_status(
    mcp_gateway: httpx.AsyncClient, token_issuer: TokenIssuer
) -> None:
    developer = agent(mcp_gateway, token_issuer, "p-dev6", ["developer"], "developer")
    not_json = await mcp_gateway.post("/mcp/developer", content=b"{nope", headers=developer.headers)
    assert not_json.status_code == 400 and not_json.json()["error"]["code"] == -32700
    empty = await developer.post([])
    assert empty.status_code == 400 and empty.json()["error"]["code"] == -32600
    unknown = await mcp_gateway.post(
        "/mcp/nowhere", json=developer.message("ping"), headers=developer.headers
    )
    assert unknown.status_code == 404
    anonymous = await mcp_gateway.post(
        "/mcp/developer", json=developer.message("ping"), headers={"accept": ACCEPT}
    )
    assert anonymous.status_code == 401 and "www-authenticate" in anonymous.headers
    mismatch = await developer.post(
        developer.message("tools/call", {"name": "shell", "arguments": {"command": "ls"}}),
        extra={"mcp-method": "tools/list"},
    )
    assert mismatch.status_code == 200 and answer_of(mismatch)["error"]["code"] == -32020
    bad_name = await developer.tool("shell; rm", {"command": "ls"})
    assert bad_name["error"]["code"] == -32602 and bad_name["error"]["data"]["field"] == "params.name"


async def test_every_message_is_audited_with_server_and_tool(
    mcp_gateway: httpx.AsyncClient, token_issuer: TokenIssuer
) -> None:
    developer = agent(mcp_gateway, token_issuer, "p-dev7", ["developer"], "developer")
    await developer.initialize()
    await developer.tool("shell", {"command": "cat secrets.txt"})
    events = await audit_events(mcp_gateway, token_issuer, 3, sub="p-dev7")
    calls = [e for e in events if e["action"] == "tools.call"]
    assert calls and calls[0]["resource"] == {"server": "developer", "method": "tools/call", "tool": "shell"}
    assert calls[0]["allow"] is True and calls[0]["route"] == "/mcp/{server}"
    assert "secrets.txt" not in str(events)  # arguments are never audited


async def test_a_server_acting_for_the_caller_gets_the_callers_credentials(
    tmp_path: Path, token_issuer: TokenIssuer, mcp_servers: McpServers, guard: Guard
) -> None:
    """Like the controller's agent mesh: configured with forward_credentials, and only then."""
    upstreams = {"memory": {"url": mcp_servers.urls["developer"], "forward_credentials": True}}
    settings = make_settings(
        tmp_path / "state",
        auth={"issuer": token_issuer.issuer, "audience": token_issuer.audience},
        mcp={"servers": upstreams},
    )
    token = token_issuer.mint(sub="p-mesh", roles=["developer"])
    start = len(mcp_servers.received.headers)
    async with running_gateway(settings, guard=guard) as client:
        memory = Agent(client, token, "/mcp/memory")
        await memory.initialize()
        assert (await memory.tool("shell", {"command": "pwd"}))["result"]["content"][0]["text"] == "ran: pwd"
    sent = [h for server, h in mcp_servers.received.headers[start:] if server == "developer"]
    assert sent and {h.get("authorization") for h in sent} == {f"Bearer {token}"}
    with pytest.raises(ValueError, match="exclude each other"):
        McpServerSettings.model_validate({"url": "http://x", "auth_env": "X", "forward_credentials": True})
