"""The controller in the app's lifespan: its pipelines, the expiry sweeper, the agent mesh."""

from __future__ import annotations

from contextlib import AsyncExitStack

from starlette.types import Receive, Scope, Send

from gateway.controller.mesh import AgentMesh
from gateway.controller.service import Service
from gateway.controller.stages import IdempotencyStore
from gateway.controller.wiring import ControllerApi, build_controller, start_sweeper
from gateway.db.controller import ControllerStore
from gateway.errors import NotFound
from gateway.http.errors import error_response
from gateway.recording import Recorder
from gateway.settings import Settings
from gateway.stages.base import Stage
from gateway.telemetry import Tracing


async def open_controller(
    settings: Settings,
    store: ControllerStore,
    stack: AsyncExitStack,
    *,
    authenticate: Stage,
    profile: Stage,
    idempotency: IdempotencyStore | None,
    recorder: Recorder,
    tracing: Tracing | None = None,
) -> tuple[ControllerApi, AgentMesh | None]:
    service = Service(store, settings.controller)
    api = build_controller(
        service,
        authenticate=authenticate,
        profile=profile,
        idempotency=idempotency,
        recorder=recorder,
        max_body_bytes=settings.server.max_body_bytes,
        tracing=tracing,
    )
    await start_sweeper(service, stack)
    mesh = None
    if settings.controller.mesh:
        mesh = AgentMesh(api, (authenticate, profile), recorder)
        await mesh.start(stack)
    return api, mesh


class MeshRoute:
    """The route's ASGI endpoint: the lifespan's mesh (built after the routes were declared)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        mesh: AgentMesh | None = getattr(scope["state"]["gateway"], "mesh", None)
        if mesh is None:
            response = error_response(NotFound("the agent mesh is off (controller.mesh: false)"), {})
            await response(scope, receive, send)
            return
        await mesh(scope, receive, send)
