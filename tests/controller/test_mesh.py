"""The agent mesh through the official ``mcp`` SDK client: the four verbs, policy, idempotency
and the same answers as the HTTP API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
import orjson
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from starlette.types import Receive, Scope, Send

from tests.controller.conftest import Api, expect

MESH = "http://skein.test/internal/mcp/agent_mesh"


@asynccontextmanager
async def mesh(api: Api, headers: dict[str, str]) -> AsyncIterator[ClientSession]:
    """An MCP session with the mesh, in process (the same app and lifespan as the HTTP tests)."""
    transport = api.client._transport  # the httpx ASGI transport of the running gateway
    app = transport.app  # type: ignore[attr-defined]

    async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
        await app(scope, receive, send)

    http = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=asgi), headers=headers)
    async with (
        http,
        streamable_http_client(MESH, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


def answer(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    data: dict[str, Any] = orjson.loads(result.content[0].text)
    return data


def error(result: Any) -> dict[str, Any]:
    assert result.is_error
    data: dict[str, Any] = orjson.loads(result.content[0].text)
    return data


async def test_the_four_verbs_hand_a_budget_to_the_manager(api: Api) -> None:
    finance, manager = api.as_("alice", "finance"), api.as_("bob", "manager")
    async with mesh(api, finance) as alice:
        tools = await alice.list_tools()
        assert {t.name for t in tools.tools} == {"send_task", "request_approval", "notify", "fetch_status"}
        task = answer(
            await alice.call_tool(
                "send_task",
                {
                    "target_role": "manager",
                    "task_type": "budget_approval",
                    "title": "Q3",
                    "payload": {"usd": 125000},
                },
            )
        )
        approval = answer(
            await alice.call_tool("request_approval", {"task_id": task["id"], "reason": "> $50K"})
        )
        assert approval["status"] == "pending" and approval["approver_role"] == "manager"
        note = answer(await alice.call_tool("notify", {"target_role": "manager", "message": "please look"}))
        assert note["priority"] == "normal"
        status = answer(await alice.call_tool("fetch_status", {"task_id": task["id"]}))
        assert status["status"] == "pending" and status["approval"] == "pending"
    # The manager decides over HTTP; finance sees it through the mesh.
    queue = expect(await api.client.get("/api/v1/approvals", headers=manager), 200)["items"]
    assert [a["id"] for a in queue] == [approval["id"]]
    expect(await api.client.post(f"/api/v1/approvals/{approval['id']}/approve", headers=manager), 200)
    async with mesh(api, finance) as alice:
        status = answer(await alice.call_tool("fetch_status", {"task_id": task["id"]}))
    assert status["approval"] == "approved" and status["approvals"][0]["decided_by"] == "bob"
    assert status["task"] == expect(await api.client.get(f"/api/v1/tasks/{task['id']}", headers=finance), 200)


async def test_the_mesh_refuses_what_the_api_refuses(api: Api) -> None:
    async with mesh(api, api.as_("carol", "hr")) as carol:
        refused = error(
            await carol.call_tool("send_task", {"target_role": "cfo", "task_type": "x", "title": "t"})
        )
        assert refused["status"] == 403 and refused["error"]["code"] == "unknown_target_role"
        bad = error(
            await carol.call_tool("send_task", {"target_role": "manager", "task_type": "x", "title": ""})
        )
        assert bad["status"] == 400 and bad["error"]["param"] == "title"
        missing = error(await carol.call_tool("fetch_status", {"task_id": "0" * 24}))
        assert missing["status"] == 404


async def test_a_role_without_the_mesh_tool_is_refused_at_the_mesh_too(api: Api) -> None:
    # analyst's agent_mesh extension lists no request_approval (bundles/profiles/analyst.yaml).
    async with mesh(api, api.as_("ivy", "analyst")) as ivy:
        task = answer(
            await ivy.call_tool("send_task", {"target_role": "manager", "task_type": "x", "title": "t"})
        )
        refused = error(await ivy.call_tool("request_approval", {"task_id": task["id"], "reason": "r"}))
    assert refused["status"] == 403 and refused["error"]["code"] == "tool_not_allowed"


async def test_the_mesh_needs_credentials(api: Api) -> None:
    transport = api.client
    response = await transport.post(
        "/internal/mcp/agent_mesh", json={"jsonrpc": "2.0", "id": 1, "method": "ping"}
    )
    assert expect(response, 401)["error"]["code"] == "missing_credentials"
    unknown = await transport.post(
        "/internal/mcp/agent_mesh",
        json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
        headers=api.as_("x", "intern"),
    )
    assert expect(unknown, 403)["error"]["code"] == "unknown_role"


async def test_a_mesh_tool_that_needs_an_approval_is_held_for_the_mcp_gateway(api: Api) -> None:
    # legal's profile lists agent_mesh__send_task under approvals.tools.
    async with mesh(api, api.as_("uma", "legal")) as uma:
        held = error(
            await uma.call_tool("send_task", {"target_role": "manager", "task_type": "x", "title": "t"})
        )
    assert held["status"] == 403 and held["error"]["code"] == "approval_required"
