"""The agent mesh: an MCP server (Streamable HTTP) whose four tools hand work between roles.

``send_task``, ``request_approval``, ``notify`` and ``fetch_status`` are thin calls onto the
controller's own pipelines (``wiring.py``): each tool call runs the operation's stages with
the MCP request's credentials, so authentication, policy, idempotency (``idempotency_key``)
and audit are exactly those of ``POST /api/v1/tasks`` and the other routes. One stage is
added for this door: the caller's role must be allowed the tool ``agent_mesh__<tool>``
(``tools.call`` in policy), the same allowlist the MCP gateway applies at ``/mcp/agent_mesh``,
so reaching this server directly grants nothing the gateway would refuse.

It is an ASGI app built in the lifespan and routed at ``/internal/mcp/agent_mesh``. Every
request is authenticated before the MCP machinery sees it (401/403 in the controller's JSON
shape, audited); the server is stateless (no ``Mcp-Session-Id`` to share between replicas)
and answers JSON, not SSE, because every tool answers at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AsyncExitStack
from typing import Any

import orjson
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from mcp.types import CallToolResult, TextContent
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.controller.call import ControlCall, ControlTrail
from gateway.controller.models import Priority
from gateway.controller.wiring import BY_ID, MESH_SERVER, MESH_TOOLS, ControllerApi, failure, new_call
from gateway.dialects.openai import CHAT
from gateway.errors import GatewayError, PayloadTooLarge
from gateway.recording import Recorder
from gateway.stages.base import Stage

log = logging.getLogger("skein.mesh")

PUBLIC_PATH = "/mcp/agent_mesh"  # where agents reach it through the MCP gateway
MOUNT_PATH = "/internal/mcp/agent_mesh"  # where this process serves it
_CREDENTIALS = ("authorization", "x-api-key")


class AgentMesh:
    """The ASGI app: admit the caller, then hand the request to the MCP server."""

    def __init__(self, api: ControllerApi, gate: tuple[Stage, ...], recorder: Recorder) -> None:
        self._api = api
        self._gate = gate  # authenticate, profile: the same stage objects as every route
        self._recorder = recorder
        self.server = MCPServer(
            MESH_SERVER,
            instructions="Hand work to other roles: send tasks, ask for approvals, notify, check status.",
            log_level="WARNING",
        )
        self._register_tools()
        # The gateway authenticates every request with a bearer token, so the SDK's DNS
        # rebinding guard (meant for unauthenticated servers on localhost) is not needed.
        security = TransportSecuritySettings(enable_dns_rebinding_protection=False)
        self._app: ASGIApp = self.server.streamable_http_app(
            streamable_http_path="/", stateless_http=True, json_response=True, transport_security=security
        )

    async def start(self, stack: AsyncExitStack) -> None:
        """Run the SDK's session manager until ``stack`` closes, in a task of its own: its anyio
        task group must be left by the task that entered it, whoever closes the stack."""
        ready, stop = asyncio.Event(), asyncio.Event()

        async def serve() -> None:
            async with self.server.session_manager.run():
                ready.set()
                await stop.wait()

        task = asyncio.create_task(serve(), name="skein-agent-mesh")
        waiting = asyncio.ensure_future(ready.wait())
        await asyncio.wait([task, waiting], return_when=asyncio.FIRST_COMPLETED)
        if not ready.is_set():
            waiting.cancel()
            await task  # it failed to start: raise its error here

        async def close() -> None:
            stop.set()
            await task

        stack.push_async_callback(close)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        refusal = await self._admit(Headers(scope=scope))
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self._app({**scope, "path": "/", "raw_path": b"/", "root_path": ""}, receive, send)

    async def _admit(self, headers: Headers) -> Any:
        call = ControlCall(CHAT, headers, ControlTrail(route=PUBLIC_PATH, action="mcp.connect"))
        try:
            for stage in self._gate:
                await stage.enter(call)
        except GatewayError as error:  # refusals are audited; admitted requests are audited per tool call
            call.fail(error)
            try:
                await self._recorder.record(call)
            except GatewayError as unrecorded:  # no refusal goes out without its record either
                return failure(call, unrecorded)
            return failure(call, error)
        return None

    def _register_tools(self) -> None:
        run = self._run
        server = self.server

        @server.tool()
        async def send_task(
            target_role: str,
            task_type: str,
            title: str,
            ctx: Context,
            payload: dict[str, Any] | None = None,
            idempotency_key: str | None = None,
        ) -> CallToolResult:
            """Send a task to a role's inbox (e.g. a budget approval to the manager). Returns the task;
            its id is what request_approval and fetch_status take. A retry with the same
            idempotency_key returns the first answer instead of a second task."""
            args = {
                "target_role": target_role,
                "task_type": task_type,
                "title": title,
                "payload": payload or {},
            }
            return await run("send_task", ctx, body=args, idempotency_key=idempotency_key)

        @server.tool()
        async def request_approval(
            task_id: str, reason: str, ctx: Context, idempotency_key: str | None = None
        ) -> CallToolResult:
            """Ask for an approval of a task. The approver is the requester's manager in the org chart,
            else the approver role of its profile. Returns the approval (status pending)."""
            args = {"task_id": task_id, "reason": reason}
            return await run("request_approval", ctx, body=args, idempotency_key=idempotency_key)

        @server.tool()
        async def notify(
            target_role: str, message: str, ctx: Context, priority: Priority = "normal"
        ) -> CallToolResult:
            """Leave a notification for every holder of a role (GET /api/v1/notifications)."""
            args = {"target_role": target_role, "message": message, "priority": priority}
            return await run("notify", ctx, body=args)

        @server.tool()
        async def fetch_status(task_id: str, ctx: Context) -> CallToolResult:
            """A task's status and the status of its approvals (approval: pending, approved, ...)."""
            return await run("fetch_status", ctx, path_params={"task_id": task_id})

    async def _run(
        self,
        tool: str,
        ctx: Context,
        *,
        body: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        path_params: Mapping[str, str] | None = None,
    ) -> CallToolResult:
        incoming = {name.lower(): value for name, value in (ctx.headers or {}).items()}
        headers = {name: incoming[name] for name in _CREDENTIALS if name in incoming}
        headers["content-type"] = "application/json"
        if idempotency_key is not None:
            headers["idempotency-key"] = idempotency_key
        raw = orjson.dumps(body) if body is not None else b""
        operation = BY_ID[MESH_TOOLS[tool]]
        call = new_call(
            operation, headers, route=PUBLIC_PATH, read_body=_body(raw), path_params=path_params or {}
        )
        call.audit(tool=f"{MESH_SERVER}__{tool}")
        response = await self._api.run_tool(call, tool)
        answer: dict[str, Any] = orjson.loads(bytes(response.body))
        failed = response.status_code >= 400
        if failed:  # the controller's error as the tool's error: status, reason code, message
            answer = {"status": response.status_code, **answer}
        text = TextContent(type="text", text=orjson.dumps(answer).decode())
        return CallToolResult(content=[text], structured_content=None if failed else answer, is_error=failed)


def _body(raw: bytes) -> Callable[[int], Awaitable[bytes]]:
    async def read(limit: int) -> bytes:
        if len(raw) > limit:
            raise PayloadTooLarge(f"the tool's arguments exceed the limit of {limit} bytes")
        return raw

    return read
