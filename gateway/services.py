"""The long-lived resources of one gateway process, made in the app's lifespan.

Requests reach them as ``request.state.gateway``; nothing lives in module globals. The
pipelines are built once from these resources (``gateway/app.py``): each is an ordered
chain of stage objects holding only what they need.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gateway.audit.writer import AuditWriter
from gateway.auth.authenticator import Authenticator
from gateway.bundle.store import BundleStore
from gateway.controller.mesh import AgentMesh
from gateway.controller.wiring import ControllerApi
from gateway.db.controller import ControllerStore
from gateway.metrics import Metrics
from gateway.pipeline import Pipeline
from gateway.settings import Settings
from gateway.state.shared import SharedState
from gateway.state.usage import UsageStore
from gateway.telemetry import Tracing
from gateway.upstream.base import Upstream
from gateway.upstream.breaker import Breakers


@dataclass(frozen=True, slots=True)
class McpPipelines:
    """The MCP routes' pipelines (``gateway/http/mcp.py``)."""

    post: Pipeline  # the envelope of a POST; it runs ``message`` for each JSON-RPC message
    message: Pipeline
    stream: Pipeline  # GET: the session's server-initiated messages
    end: Pipeline  # DELETE: end the session


@dataclass(frozen=True, slots=True)
class DecisionPipelines:
    """Explain and replay (``gateway/http/decisions_api.py``, ``replay_api.py``)."""

    view: Pipeline  # GET /v1/decisions/{id}: the caller's own, or any for auditors
    search: Pipeline  # GET /v1/decisions (auditors)
    candidates: Pipeline  # GET /v1/replay/candidates (auditors)
    replay: Pipeline  # GET /v1/replay (auditors)


@dataclass(frozen=True, slots=True)
class Gateway:
    settings: Settings
    metrics: Metrics
    authenticator: Authenticator
    bundles: BundleStore
    audit: AuditWriter
    upstreams: Mapping[str, Upstream]
    usage: UsageStore
    instance_id: str
    model_call: Pipeline  # POST routes of every model dialect
    model_list: Pipeline  # GET /v1/models, GET /api/tags
    audit_query: Pipeline  # GET /audit
    controller: ControllerStore  # tasks, approvals, sessions (open() before use: it may not be yet)
    mcp: McpPipelines  # /mcp, /mcp/{server}
    profile_view: Pipeline  # GET /profiles/me
    goose_allowlist: Pipeline  # GET /goose/allowlist.yaml
    decisions: DecisionPipelines
    state: SharedState | None = None  # Redis: budgets, rate limits, idempotency (None: memory)
    controller_api: ControllerApi | None = None  # /api/v1: one pipeline per operation
    mesh: AgentMesh | None = None  # the agent mesh MCP server (/internal/mcp/agent_mesh)
    tracing: Tracing | None = None  # OpenTelemetry traces (None: off, the OTEL_* variables unset)
    breakers: Breakers | None = None  # per-deployment circuit breakers (routing.breaker_failures)
