"""The ASGI application: routes, and the lifespan that owns every long-lived resource.

Nothing lives in module globals. The lifespan builds one ``Gateway`` (HTTP pools, the bundle
store and its compiled policy, the audit writer, metrics) and hands it to each request
through Starlette's lifespan state (``request.state.gateway``); on shutdown it drains the
audit queue and closes the pools, in reverse order of creation.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import httpx
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway import metrics_live
from gateway.audit.postgres import sink_from_settings
from gateway.audit.writer import AuditWriter
from gateway.auth.authenticator import Authenticator
from gateway.auth.devkey import DevKey
from gateway.bundle.setup import open_bundles
from gateway.errors import BadRequest, GatewayError, MethodNotAllowed, NotFound
from gateway.guarding import GuardStage, build_guard
from gateway.http import audit_api, ops, proxy
from gateway.http.errors import error_response
from gateway.http.fastpath import FastPaths
from gateway.metrics import Metrics
from gateway.pipeline import ECHO, Gateway
from gateway.settings import Settings
from gateway.state.shared import open_shared_state
from gateway.state.usage import MemoryUsageStore
from gateway.upstream.base import Upstream
from gateway.upstream.echo import EchoUpstream
from gateway.upstream.http import HttpUpstream, new_pool
from guard import Guard

log = logging.getLogger("skein.app")


def create_app(settings: Settings, *, guard: Guard | None = None) -> FastPaths:
    """``guard``: an already started guard to share (tests); by default the app builds its own."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Gateway]]:
        async with AsyncExitStack() as stack:
            gateway = await build_gateway(settings, stack, guard=guard)
            # Say what really serves: a ready gateway without a bundle refuses every call.
            bundle = gateway.bundles.status()
            context = {
                "revision": bundle["revision"],
                "source": bundle["source"],
                "verified": bundle["verified"],
                "dev_mode": settings.dev.enabled,
            }
            if bundle["revision"] is not None:
                log.info(
                    "gateway ready: bundle %s from %s", context["revision"], context["source"], extra=context
                )
            else:
                why = bundle["last_error"] or "not loaded yet"
                log.warning("gateway ready, no bundle yet: %s (calls get 503 no_bundle)", why, extra=context)
            yield {"gateway": gateway}
            log.info("gateway stopping: draining audit")

    routes = [
        Route("/v1/chat/completions", proxy.chat_completions, methods=["POST"]),
        Route("/v1/embeddings", proxy.embeddings, methods=["POST"]),
        Route("/v1/models", ops.list_models, methods=["GET"]),
        Route("/audit", audit_api.query_audit, methods=["GET"]),
        Route("/healthz", ops.healthz, methods=["GET"]),
        Route("/readyz", ops.readyz, methods=["GET"]),
        Route("/metrics", ops.metrics, methods=["GET"]),
        Route("/.well-known/jwks.json", ops.jwks, methods=["GET"]),
        Route("/.well-known/openid-configuration", ops.openid_configuration, methods=["GET"]),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_exception, Exception: _unexpected},
    )
    return FastPaths(
        app,
        {
            ("POST", "/v1/chat/completions"): proxy.chat_completions,
            ("POST", "/v1/embeddings"): proxy.embeddings,
        },
    )


async def build_gateway(settings: Settings, stack: AsyncExitStack, *, guard: Guard | None = None) -> Gateway:
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    instance_id = settings.audit.instance_id or socket.gethostname()
    metrics = Metrics()

    control_http = await stack.enter_async_context(
        httpx.AsyncClient(timeout=settings.auth.http_timeout_seconds, follow_redirects=False)
    )
    dev_key = DevKey.load_or_create(settings.state_dir, settings.dev) if settings.dev.enabled else None
    authenticator = Authenticator(settings.auth, dev_key=dev_key, http=control_http)
    stack.push_async_callback(authenticator.aclose)

    # Verified and compiled before the first request; polling and SIGHUP stop with the stack.
    bundles = await open_bundles(settings, metrics, control_http, stack)

    sink = sink_from_settings(settings, instance_id)  # SQLite, or Postgres + spool
    audit = AuditWriter(sink, settings.audit, metrics)
    await audit.start()
    stack.push_async_callback(audit.close)  # drains the queue before the process exits

    pool = new_pool()
    stack.push_async_callback(pool.close)
    upstreams: dict[str, Upstream] = {ECHO: EchoUpstream()}
    for name, provider in settings.providers.items():
        upstreams[name] = EchoUpstream() if provider.dialect == "echo" else HttpUpstream(name, provider, pool)

    if guard is None and settings.guard.enabled:
        guard = build_guard(settings.guard, settings.state_dir)
        await guard.start()  # loads the NER model in the workers once, before traffic
        stack.push_async_callback(guard.aclose)

    # Redis-backed budgets, rate limits and idempotency when state.backend is redis.
    state = await open_shared_state(settings.state, stack)
    spool = getattr(sink, "spool", None)  # only the Postgres sink has one
    metrics_live.watch(
        metrics.registry,
        spool_bytes=(lambda: spool.size) if spool is not None else None,
        state_failures=state.policy.failures if state else None,
    )

    return Gateway(
        settings=settings,
        metrics=metrics,
        authenticator=authenticator,
        bundles=bundles,
        audit=audit,
        upstreams=upstreams,
        usage=state.usage if state else MemoryUsageStore(),
        guard=GuardStage(guard),
        instance_id=instance_id,
        state=state,
    )


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    error: GatewayError
    if exc.status_code == 404:
        error = NotFound(f"no route {request.method} {request.url.path}")
    elif exc.status_code == 405:
        error = MethodNotAllowed(f"method {request.method} is not allowed on {request.url.path}")
    else:
        error = BadRequest(str(exc.detail), reason="invalid_request")
    return error_response(error, {})


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(GatewayError("internal error; see the gateway log"), {})
