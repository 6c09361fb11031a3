"""The controller's agent mesh behind the MCP gateway, as operators configure it: Skein reaches
its own ``/internal/mcp/agent_mesh`` as the upstream server ``agent_mesh``, forwarding the
caller's credentials (the mesh acts for the caller). The gateway's allowlists then apply to
the mesh as to any other server.

The gateway runs under uvicorn on a real socket on the test's own event loop (it must reach
itself over HTTP), with the session's guard; the official SDK client drives it.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import httpx2
import orjson
import pytest
import uvicorn
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from gateway.app import create_app
from guard import Guard
from tests.support.gateway import make_settings
from tests.support.issuer import TokenIssuer

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
async def base_url(
    tmp_path_factory: pytest.TempPathFactory, token_issuer_session: TokenIssuer, guard: Guard
) -> AsyncIterator[str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    mesh = {"url": f"{base}/internal/mcp/agent_mesh", "forward_credentials": True}
    settings = make_settings(
        tmp_path_factory.mktemp("mesh") / "state",
        auth={"issuer": token_issuer_session.issuer, "audience": token_issuer_session.audience},
        mcp={"servers": {"agent_mesh": mesh}},
    )
    server = uvicorn.Server(uvicorn.Config(create_app(settings, guard=guard), log_level="warning"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.02)
    yield base
    server.should_exit = True
    await task
    sock.close()


async def client_of(base: str, token: str) -> tuple[httpx2.AsyncClient, Client]:
    http = httpx2.AsyncClient(headers={"authorization": f"Bearer {token}"}, timeout=30)
    return http, Client(streamable_http_client(base + "/mcp/agent_mesh", http_client=http), mode="legacy")


async def test_the_mesh_is_governed_like_any_server(base_url: str, token_issuer: TokenIssuer) -> None:
    http, client = await client_of(base_url, token_issuer.mint(sub="mesh-alice", roles=["finance"]))
    async with http, client:
        tools = {t.name for t in (await client.list_tools()).tools}
        assert tools == {"send_task", "request_approval", "notify", "fetch_status"}
        sent = await client.call_tool(
            "notify", {"target_role": "manager", "message": "budget for alice@acme.com"}
        )
        note = orjson.loads(sent.content[0].text)  # type: ignore[union-attr]
        assert note["message"] == "budget for alice@acme.com"  # the caller's value, restored
    # finance pseudonymizes: what the mesh stored (and the manager reads) is a pseudonym.
    manager = {"authorization": f"Bearer {token_issuer.mint(sub='mesh-bob', roles=['manager'])}"}
    async with httpx2.AsyncClient(headers=manager) as api:
        stored = (await api.get(base_url + "/api/v1/notifications")).json()
    messages = [item["message"] for item in stored["items"] if item["id"] == note["id"]]
    assert len(messages) == 1 and "alice@acme.com" not in messages[0] and "EMAIL_ADDRESS" in messages[0]
    # analyst's mesh extension lists no request_approval: hidden, and refused by name.
    http, client = await client_of(base_url, token_issuer.mint(sub="mesh-ann", roles=["analyst"]))
    async with http, client:
        assert "request_approval" not in {t.name for t in (await client.list_tools()).tools}
        with pytest.raises(MCPError) as refused:
            await client.call_tool("request_approval", {"task_id": "x", "reason": "y"})
        data = refused.value.error.data
        assert isinstance(data, dict) and data["reason"] == "tool_not_allowed"
