"""The controller's pipelines, one per operation, built once in the app's lifespan.

Every operation runs the same stages (``stages.py`` says why in this order)::

    authenticate -> read -> [idempotency] -> profile -> locate -> decide -> the operation

and the way out records the call (audit + metrics) exactly once, like a model call. The HTTP
routes (``gateway/http/controller.py``) and the agent mesh (``mesh.py``) both run these.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass

import orjson
from starlette.responses import Response

from gateway.call import Answer, Call
from gateway.controller import approvals, directory, sessions, tasks
from gateway.controller.call import ControlCall, ControlTrail
from gateway.controller.operation import Operation
from gateway.controller.service import Service
from gateway.controller.stages import (
    Authorize,
    ControlIdempotency,
    IdempotencyStore,
    Locate,
    ReadRequest,
    ToolAllowed,
    control,
)
from gateway.db.controller import ControllerStore
from gateway.dialects.openai import CHAT
from gateway.errors import GatewayError
from gateway.http.errors import error_response
from gateway.pipeline import Finish, Pipeline, Respond
from gateway.recording import Recorder
from gateway.stages.base import Stage
from gateway.telemetry import Tracing

log = logging.getLogger("skein.controller")

OPERATIONS: tuple[Operation, ...] = (
    *tasks.OPERATIONS,
    *approvals.OPERATIONS,
    *sessions.OPERATIONS,
    *directory.OPERATIONS,
)
BY_ID: Mapping[str, Operation] = {op.id: op for op in OPERATIONS}
_JSON = "application/json"


#: The agent mesh's tools and the operations they call (``mesh.py``).
MESH_SERVER = "agent_mesh"
MESH_TOOLS: Mapping[str, str] = {
    "send_task": "tasks.create",
    "request_approval": "approvals.request",
    "notify": "notifications.send",
    "fetch_status": "tasks.status",
}


@dataclass(frozen=True, slots=True)
class ControllerApi:
    service: Service
    pipelines: Mapping[str, Pipeline]  # by operation id: the HTTP routes
    tools: Mapping[str, Pipeline]  # by mesh tool: the same stages, plus the tool allowlist

    async def run(self, call: ControlCall, operation_id: str) -> Response:
        return await self.pipelines[operation_id].run(call)

    async def run_tool(self, call: ControlCall, tool: str) -> Response:
        return await self.tools[tool].run(call)


def new_call(
    operation: Operation,
    headers: Mapping[str, str],
    *,
    route: str,
    read_body: Callable[[int], Awaitable[bytes]],
    params: Mapping[str, str] | None = None,
    path_params: Mapping[str, str] | None = None,
) -> ControlCall:
    """A call for ``operation``; ``route`` names the door in audit (the path, or the mesh)."""
    # The dialect only renders model answers; controller answers are JSON of their own.
    call = ControlCall(CHAT, headers, ControlTrail(route=route, action=operation.action))
    call.read_body = read_body
    call.params = params or {}
    call.path_params = path_params or {}
    return call


def build_controller(
    service: Service,
    *,
    authenticate: Stage,
    profile: Stage,
    idempotency: IdempotencyStore | None,
    recorder: Recorder,
    max_body_bytes: int,
    tracing: Tracing | None = None,
) -> ControllerApi:
    def pipeline(op: Operation, door: Stage | None = None) -> Pipeline:
        stages: list[Stage] = [authenticate, ReadRequest(op, max_body_bytes)]
        if op.idempotent:  # scoped by operation, not door: a retry through either replays
            stages.append(ControlIdempotency(idempotency, scope=op.id))
        stages.append(profile)
        if door is not None:
            stages.append(door)
        stages += [Locate(service, op), Authorize(op.action)]
        return Pipeline(
            stages,
            _responder(service, op),
            failure,
            recorder,
            tracing=tracing,
            method=op.method,
            route=op.path,
        )

    pipelines = {op.id: pipeline(op) for op in OPERATIONS}
    tools = {
        tool: pipeline(BY_ID[op_id], ToolAllowed(MESH_SERVER, tool)) for tool, op_id in MESH_TOOLS.items()
    }
    return ControllerApi(service, pipelines, tools)


def _headers(call: Call) -> dict[str, str]:
    headers = {"x-skein-request-id": call.trail.request_id}
    if call.trail.decision_id:
        headers["x-skein-decision-id"] = call.trail.decision_id
    return headers


def _responder(service: Service, op: Operation) -> Respond:
    async def respond(call: Call, finish: Finish) -> Response:
        ctl = control(call)
        if ctl.replay is not None:
            stored = ctl.replay
            ctl.trail.status = stored.status
            ctl.trail.notes.append("idempotent_replay")
            replayed = stored.request_id or stored.headers.get("x-skein-request-id", "unknown")
            headers = {**stored.headers, **_headers(ctl), "x-skein-idempotent-replay": replayed}
            return Response(stored.body, stored.status, headers, media_type=_JSON)
        reply = await op.run(service, ctl)
        body = orjson.dumps(reply.body)
        headers = {**_headers(ctl), **reply.headers, "content-type": _JSON}
        ctl.trail.status = reply.status
        ctl.answer = Answer(reply.status, headers, body)  # kept for an idempotent replay
        return Response(body, reply.status, headers)

    return respond


def failure(call: Call, error: GatewayError) -> Response:
    return error_response(error, _headers(call))


async def start_sweeper(service: Service, stack: AsyncExitStack) -> None:
    """Expire approvals and sessions whose time is up, every ``sweep_interval_seconds``."""

    async def sweep() -> None:
        while True:
            await asyncio.sleep(service.settings.sweep_interval_seconds)
            try:
                approvals_expired, sessions_expired = await service.use(_expire)
            except GatewayError as exc:  # the store is down: try again next round
                log.warning("controller expiry sweep skipped: %s", exc.message)
                continue
            except Exception:
                log.exception("controller expiry sweep failed")
                continue
            if approvals_expired or sessions_expired:
                log.info("expired %d approvals, %d sessions", approvals_expired, sessions_expired)

    async def _expire(store: ControllerStore) -> tuple[int, int]:
        now = service.now()
        return await store.expire_approvals(now), await store.expire_sessions(now)

    task = asyncio.create_task(sweep(), name="skein-controller-sweeper")

    async def stop() -> None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    stack.push_async_callback(stop)
