"""The ASGI application: routes, and the lifespan that owns every long-lived resource.

Nothing lives in module globals. The lifespan builds one ``Gateway`` (HTTP pools, the bundle
store and its compiled policy, the audit writer, metrics, and the pipelines made of them)
and hands it to each request through Starlette's lifespan state (``request.state.gateway``);
on shutdown it drains the audit queue and closes the pools, in reverse order of creation.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from importlib.metadata import PackageNotFoundError, version

import aiohttp
import httpx
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway import metrics_live
from gateway.approvals import ApprovalGate
from gateway.audit.decisions import DecisionReader
from gateway.audit.setup import build_audit_writer
from gateway.auth.authenticator import Authenticator
from gateway.auth.devkey import DevKey
from gateway.bundle.setup import open_bundles
from gateway.controller.mesh import MOUNT_PATH
from gateway.controller.mesh import MOUNT_PATH as MESH_PATH
from gateway.controller.service import Service
from gateway.controller.setup import MeshRoute, open_controller
from gateway.db.controller import ControllerStoreError
from gateway.db.stores import controller_store_from_settings
from gateway.dialects.registry import MODEL_ROUTES
from gateway.errors import BadRequest, GatewayError, MethodNotAllowed, NotFound
from gateway.guarding import build_guard
from gateway.http import agents, audit_api, decisions_api, mcp, models, ops, proxy, replay_api, ui
from gateway.http.answers import ModelAnswers
from gateway.http.controller import controller_routes
from gateway.http.errors import error_response
from gateway.http.fastpath import FastPaths
from gateway.http.mcp import McpAnswers
from gateway.http.server import Refusals
from gateway.mcp.call import mcp_call
from gateway.mcp.catalog import ResourceIndex, ToolCatalog
from gateway.mcp.guarding import message_slots
from gateway.mcp.methods import METHODS
from gateway.mcp.recording import McpRecorder
from gateway.mcp.session import SessionSealer
from gateway.mcp.upstream import McpUpstream
from gateway.metrics import Metrics
from gateway.pipeline import Pipeline, Respond
from gateway.recording import Recorder, UnauthenticatedBudget
from gateway.replay import Candidates
from gateway.services import DecisionPipelines, Gateway, McpPipelines
from gateway.settings import McpServerSettings, Settings
from gateway.shadow import Shadow, open_shadow
from gateway.stages.admit import Admit
from gateway.stages.authenticate import Authenticate
from gateway.stages.base import Stage
from gateway.stages.body import ReadBody
from gateway.stages.decide import Decide
from gateway.stages.forward import Forward
from gateway.stages.idempotency import Idempotency
from gateway.stages.mask import Mask
from gateway.stages.mcp_approve import ApproveMcp
from gateway.stages.mcp_decide import DecideMcp
from gateway.stages.mcp_filter import FilterListing
from gateway.stages.mcp_forward import ForwardMcp
from gateway.stages.mcp_read import ReadMcp
from gateway.stages.mcp_session import McpSessionStage
from gateway.stages.mcp_target import McpTarget
from gateway.stages.profile import Profile
from gateway.stages.recovery import Recovery
from gateway.stages.route import RouteCall
from gateway.state.breakers import BreakerSync
from gateway.state.shared import open_state
from gateway.telemetry import Tracing, open_tracing
from gateway.upstream.balance import Balancer
from gateway.upstream.base import Upstream
from gateway.upstream.breaker import Breakers
from gateway.upstream.echo import ECHO, EchoUpstream
from gateway.upstream.http import HttpUpstream, new_pool
from guard import Guard

log = logging.getLogger("skein.app")
MESH = "agent_mesh"  # the name the role profiles' extensions use for the mesh
try:
    _VERSION = version("skein")
except PackageNotFoundError:  # a source tree that was not installed
    _VERSION = "0"


def create_app(
    settings: Settings, *, guard: Guard | None = None, refusals: Refusals | None = None
) -> FastPaths:
    """``guard``: an already started guard to share (tests); by default the app builds its own.
    ``refusals``: the server's count of refused connections, exposed with the app's metrics."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Gateway]]:
        async with AsyncExitStack() as stack:
            gateway = await build_gateway(settings, stack, guard=guard)
            if refusals is not None:
                gateway.metrics.registry.register(refusals)
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

    model_routes = {dialect.path: proxy.model_route(dialect) for dialect in MODEL_ROUTES}
    routes = [Route(path, handler, methods=["POST"]) for path, handler in model_routes.items()]
    routes += [
        Route("/v1/models", models.listing_route("/v1/models", models.openai_or_anthropic), methods=["GET"]),
        Route("/api/tags", models.listing_route("/api/tags", models.ollama_tags), methods=["GET"]),
        Route("/audit", audit_api.audit_route, methods=["GET"]),
        Route("/v1/decisions", decisions_api.search_route, methods=["GET"]),
        Route("/v1/decisions/{decision_id}", decisions_api.decision_route, methods=["GET"]),
        Route("/v1/replay/candidates", replay_api.candidates_route, methods=["GET"]),
        Route("/v1/replay", replay_api.replay_route, methods=["GET"]),
        *ui.routes(),  # /ui: the decision explorer (static page; the APIs above do the work)
        Route("/mcp", mcp.mcp_post, methods=["POST"]),
        Route("/mcp", mcp.mcp_delete, methods=["DELETE"]),
        Route("/mcp/{server}", mcp.mcp_post, methods=["POST"]),
        Route("/mcp/{server}", mcp.mcp_get, methods=["GET"]),
        Route("/mcp/{server}", mcp.mcp_delete, methods=["DELETE"]),
        Route("/profiles/me", agents.profile_me, methods=["GET"]),
        Route("/goose/allowlist.yaml", agents.goose_allowlist, methods=["GET"]),
        Route("/healthz", ops.healthz, methods=["GET"]),
        Route("/readyz", ops.readyz, methods=["GET"]),
        Route("/metrics", ops.metrics, methods=["GET"]),
        Route("/.well-known/jwks.json", ops.jwks, methods=["GET"]),
        Route("/.well-known/openid-configuration", ops.openid_configuration, methods=["GET"]),
        *controller_routes(),  # /api/v1/... and /openapi.json
        Route(MOUNT_PATH, MeshRoute()),  # the agent mesh (MCP: POST, GET, DELETE)
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_exception, Exception: _unexpected},
    )
    return FastPaths(app, {("POST", path): handler for path, handler in model_routes.items()})


async def build_gateway(settings: Settings, stack: AsyncExitStack, *, guard: Guard | None = None) -> Gateway:
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    instance_id = settings.audit.instance_id or socket.gethostname()
    metrics = Metrics()
    # Traces, when the OTEL_* variables ask for them; shut down (flushed) last, after the audit.
    tracing = open_tracing(os.environ, version=_VERSION, instance_id=instance_id)
    if tracing is not None:
        stack.push_async_callback(asyncio.to_thread, tracing.shutdown)

    control_http = await stack.enter_async_context(
        httpx.AsyncClient(timeout=settings.auth.http_timeout_seconds, follow_redirects=False)
    )
    dev_key = DevKey.load_or_create(settings.state_dir, settings.dev) if settings.dev.enabled else None
    authenticator = Authenticator(settings.auth, dev_key=dev_key, http=control_http)
    stack.push_async_callback(authenticator.aclose)

    # Verified and compiled before the first request; polling and SIGHUP stop with the stack.
    bundles = await open_bundles(settings, metrics, control_http, stack)

    audit = build_audit_writer(settings, instance_id, metrics)  # the spool, then SQLite or Postgres
    await audit.start()
    stack.push_async_callback(audit.close)  # ships what it can; the spool keeps the rest

    pool = new_pool()
    stack.push_async_callback(pool.close)
    upstreams: dict[str, Upstream] = {ECHO: EchoUpstream()}  # built in: the catalog's `echo` model
    for name, provider in settings.providers.items():
        upstreams[name] = EchoUpstream() if provider.dialect == ECHO else HttpUpstream(name, provider, pool)
    # With no provider configured at all, the echo provider answers every model (quickstart).
    fallback = None if settings.providers else EchoUpstream()
    # Deployments, breakers, retries and fallbacks (docs/routing.md).
    routing = settings.routing
    breakers = Breakers(settings.providers, routing.breaker_failures, routing.breaker_cooldown_seconds)
    metrics.watch_breakers(breakers)
    balancer = Balancer(routing, upstreams, settings.providers, breakers) if routing.deployments else None
    recovery = Recovery(routing, upstreams, metrics, breakers=breakers, balancer=balancer)

    if guard is None and settings.guard.enabled:
        guard = build_guard(settings.guard, settings.state_dir)
        await guard.start()  # loads the NER model in the workers once, before traffic
        stack.push_async_callback(guard.aclose)

    # Tasks, approvals, sessions: in the audit database (SQLite file, or the Postgres schema). A
    # store that cannot open yet (Postgres down) does not stop start-up: open() is idempotent,
    # and whoever uses it opens it first and answers 503 while it cannot.
    controller = controller_store_from_settings(settings)
    stack.push_async_callback(controller.close)
    try:
        await controller.open()
    except ControllerStoreError as exc:
        log.error("controller store unavailable at start-up: %s", exc)

    # Budgets, rate limits and idempotency: in this process, or in Redis (state.backend).
    state = await open_state(settings.state, stack)
    usage = state.usage
    metrics_live.watch(metrics.registry, state_failures=state.policy.failures)
    if state.backend == "redis":
        metrics.watch_dependency("redis", lambda: state.policy.up)
    if state.client is not None and breakers.by_name:  # replicas share when a breaker opens
        breaker_sync = BreakerSync(breakers, state.client, settings.state.key_prefix)
        breaker_sync.start()
        stack.push_async_callback(breaker_sync.aclose)

    unauthenticated = UnauthenticatedBudget()  # one budget for every route's failed logins
    recorder = Recorder(audit, metrics, instance_id, unauthenticated)
    answers = ModelAnswers(overhead_header=settings.server.overhead_header)
    approvals = ApprovalGate(Service(controller, settings.controller))  # the controller's rules
    shadow = await open_shadow(settings, metrics, stack)  # None unless bundle.shadow_path is set
    authenticate, profile = Authenticate(authenticator), Profile(bundles)
    decide = Decide(usage, approvals, shadow)
    model_call = Pipeline(
        [
            authenticate,
            ReadBody(settings.server.max_body_bytes),
            Idempotency(state),
            profile,
            decide,
            RouteCall(upstreams, fallback, balancer),
            Admit(state),
            Mask(guard),
            Forward(metrics, usage, recovery, breakers),
        ],
        answers.respond,
        answers.error,
        recorder,
        tracing=tracing,
    )
    model_list = Pipeline(
        [authenticate, profile, decide],
        models.servable(upstreams, echo_everything=fallback is not None, headers=answers.headers),
        answers.error,
        recorder,
        tracing=tracing,
        method="GET",
    )
    audit_query = Pipeline(
        [authenticate, audit_api.RequireAuditor()],
        audit_api.audit_query(settings.audit, settings.audit_db_path),
        answers.error,
        recorder,
        tracing=tracing,
        method="GET",
    )
    decisions = _decision_pipelines(settings, authenticate, answers, recorder, stack)
    mcp_recorder = McpRecorder(audit, metrics, instance_id, unauthenticated)
    servers = mcp_servers(settings)
    controller_api, mesh = await open_controller(
        settings,
        controller,
        stack,
        authenticate=authenticate,
        profile=profile,
        idempotency=state.idempotency,
        recorder=recorder,
        tracing=tracing,
    )
    return Gateway(
        mcp=_mcp_pipelines(
            settings,
            servers,
            metrics,
            pool,
            guard,
            approvals,
            authenticate,
            profile,
            mcp_recorder,
            tracing,
            shadow,
        ),
        profile_view=Pipeline(
            [authenticate, profile, decide],
            agents.profile_view(servers),
            answers.error,
            recorder,
            tracing=tracing,
            method="GET",
        ),
        goose_allowlist=Pipeline(
            [authenticate, profile],
            agents.goose_allowlist_yaml(servers),
            answers.error,
            recorder,
            tracing=tracing,
            method="GET",
        ),
        settings=settings,
        metrics=metrics,
        authenticator=authenticator,
        bundles=bundles,
        audit=audit,
        upstreams=upstreams,
        breakers=breakers,
        usage=usage,
        instance_id=instance_id,
        model_call=model_call,
        model_list=model_list,
        audit_query=audit_query,
        decisions=decisions,
        controller=controller,
        state=state,
        controller_api=controller_api,
        mesh=mesh,
        tracing=tracing,
    )


def _decision_pipelines(
    settings: Settings,
    authenticate: Authenticate,
    answers: ModelAnswers,
    recorder: Recorder,
    stack: AsyncExitStack,
) -> DecisionPipelines:
    """Explain (a caller's own decisions), search and replay (auditors)."""
    reader = DecisionReader(settings.audit, settings.audit_db_path)
    candidates = Candidates(settings)
    stack.callback(candidates.release)  # compiled engines dropped on the loop's thread
    auditors = [authenticate, audit_api.RequireAuditor()]

    def pipeline(stages: list[Stage], respond: Respond) -> Pipeline:
        return Pipeline(stages, respond, answers.error, recorder)

    return DecisionPipelines(
        view=pipeline([authenticate], decisions_api.view_decision(reader)),
        search=pipeline(auditors, decisions_api.search_decisions(reader)),
        candidates=pipeline(auditors, replay_api.list_candidates(candidates)),
        replay=pipeline(auditors, replay_api.run_replay(candidates, reader)),
    )


def mcp_servers(settings: Settings) -> dict[str, McpServerSettings]:
    """The configured MCP servers, plus this gateway's own agent mesh as ``agent_mesh`` (unless
    configured otherwise), so the mesh's tools sit behind the same allowlists as any server."""
    servers = dict(settings.mcp.servers)
    if settings.controller.mesh and MESH not in servers:
        host = settings.server.host if settings.server.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
        host = f"[{host}]" if ":" in host else host
        url = f"http://{host}:{settings.server.port}{MESH_PATH}"
        servers[MESH] = McpServerSettings(url=url, forward_credentials=True)
    return servers


def _mcp_pipelines(
    settings: Settings,
    servers: dict[str, McpServerSettings],
    metrics: Metrics,
    pool: aiohttp.ClientSession,
    guard: Guard | None,
    approvals: ApprovalGate,
    authenticate: Authenticate,
    profile: Profile,
    recorder: McpRecorder,
    tracing: Tracing | None,
    shadow: Shadow | None,
) -> McpPipelines:
    """The MCP gateway's pipelines (gateway/http/mcp.py), over one upstream client per server."""
    config = settings.mcp
    upstreams = {name: McpUpstream(name, server, pool) for name, server in servers.items()}
    metrics.set_mcp_labels(servers=upstreams, methods=[*METHODS, "GET", "(response)"])
    secret = os.environ.get(config.session_key_env) if config.session_key_env else None
    if config.session_key_env and not secret:
        log.warning("mcp.session_key_env %s is not set: MCP sessions are per process", config.session_key_env)
    sealer = SessionSealer(secret, config.session_ttl_seconds)
    catalog, resources = ToolCatalog(config.tools_cache_seconds), ResourceIndex()
    route, decide = McpTarget(upstreams, resources), DecideMcp(upstreams, catalog, shadow)
    forward = ForwardMcp(upstreams, sealer, metrics, version=_VERSION)
    answers = McpAnswers(upstreams, overhead_header=settings.server.overhead_header)
    message = Pipeline(
        [
            route,
            decide,
            Mask(guard, slots=lambda call: message_slots(mcp_call(call).outgoing or {})),
            ApproveMcp(approvals),
            forward,
            FilterListing(catalog, resources, metrics),
        ],
        answers.respond,
        answers.fail_message,
        recorder,
        tracing=tracing,
    )
    envelope = [
        authenticate,
        ReadMcp(settings.server.max_body_bytes, config.max_batch),
        McpSessionStage(sealer),
        profile,
    ]
    session = McpSessionStage(sealer, required=True)
    return McpPipelines(
        post=Pipeline(envelope, answers.dispatch(message), answers.fail, recorder, tracing=tracing),
        message=message,
        stream=Pipeline(
            [authenticate, session, profile, route, decide, forward],
            answers.stream,
            answers.fail,
            recorder,
            tracing=tracing,
            method="GET",
        ),
        end=Pipeline(
            [authenticate, session, profile],
            answers.end_session,
            answers.fail,
            recorder,
            tracing=tracing,
            method="DELETE",
        ),
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
