"""Prometheus metrics: one ``Metrics`` object per app, with its own registry (no globals).

Every series is named ``skein_*``; docs/audit.md lists them and grafana/ queries only these
names (tests/test_grafana.py keeps the two in step).

Two rules keep ``/metrics`` cheap and bounded:

* label values are bounded: models and roles must be in the set the app declares on bundle
  load (``set_known_labels``), anything else counts as ``other``; free-form labels (route,
  reason, stage, provider, entity...) admit a fixed number of distinct values, then ``other``;
  a missing value is ``none``; ``status_class`` is one of ``1xx``..``5xx``;
* a caller with several roles is counted once, under the set of its roles that the bundle
  knows, sorted and joined with ``+`` (``developer+finance``): summing over ``role`` gives
  every call exactly once, and a role's own traffic is ``role=~"(.+\\+)?finance(\\+.+)?"``.
  Combinations are capped like free-form values (then ``other``);
* the request path never calls ``labels(...)`` twice for the same values: children are cached
  by the raw label tuple, so an observation is one dict lookup plus the increments.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from typing import Generic, Literal, TypeVar

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)

from gateway.metrics_loop import LoopHistogram
from gateway.upstream.breaker import STATE_VALUES, Breaker, Breakers
from signing.schema import TASKS

OTHER = "other"
NONE = "none"

# Upstream calls: milliseconds to minutes (streams run long).
SLOW_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
# Whole requests: from a quarter millisecond (a refusal by the gateway alone) to minutes.
REQUEST_BUCKETS = (0.00025, 0.0005, 0.001, 0.0025, *SLOW_BUCKETS)
# Time to the first byte of a stream, as the caller sees it.
TTFT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
STATUS_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")
# The gateway's own work: the budget is about a millisecond, so resolve below it.
FAST_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)

# spooled: durable in the local spool (the call may be answered); written: in the store;
# failed: store attempts that failed (records wait in the spool); refused: calls answered
# 503 because the spool could not take their record; dropped: records lost.
AuditResult = Literal["spooled", "written", "failed", "refused", "dropped"]
BundleLoadResult = Literal["ok", "rejected", "error"]
_AUDIT_RESULTS: tuple[AuditResult, ...] = ("spooled", "written", "failed", "refused", "dropped")
# What /readyz checks besides the bundle; 1 while healthy, 0 while failing.
Dependency = Literal["audit_spool", "audit_store", "redis"]
_BUNDLE_RESULTS: tuple[BundleLoadResult, ...] = ("ok", "rejected", "error")
# How a decision failed inside the embedded engine (gateway.policy.interpreter.FaultKind).
PolicyFaultKind = Literal["error", "panic", "result"]
_POLICY_FAULTS: tuple[PolicyFaultKind, ...] = ("error", "panic", "result")
#: Decision notes that change the served model (policies/budgets.rego, policies/routing.rego).
DOWNSHIFT_REASONS = frozenset({"model_downshifted", "task_downshifted"})

# Suffixes the exposition format adds to a family's name, by type.
_SAMPLE_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "gauge": ("",),
}

M = TypeVar("M", Counter, Gauge, Histogram)


#: How a shadow (or candidate) decision can differ from the live one, most telling first.
SHADOW_KINDS = ("allow_to_deny", "deny_to_allow", "model", "guard", "approval", "reasons", "error")


class LabelBound:
    """Maps one label's raw values onto a bounded set.

    With a known set (models, roles) only its members pass. Without one, the first ``cap``
    distinct values pass: enough for stable codes, a ceiling against a runaway source.
    """

    __slots__ = ("_cap", "_known", "_seen")

    def __init__(self, cap: int, known: Iterable[str] | None = None) -> None:
        self._cap = cap
        self._known: frozenset[str] | None = None if known is None else frozenset(known)
        self._seen: set[str] = set()

    def set_known(self, values: Iterable[str]) -> None:
        self._known = frozenset(values)

    def __call__(self, value: str | None) -> str:
        if not value:
            return NONE
        if self._known is not None:
            return value if value in self._known else OTHER
        if value in self._seen:
            return value
        if len(self._seen) < self._cap:
            self._seen.add(value)
            return value
        return OTHER


class RoleSetBound(LabelBound):
    """Maps a caller's roles (joined with ``+``) onto the sorted set of the known ones, then
    caps the distinct sets like a free-form label. No known role left: ``other``."""

    __slots__ = ()

    def __call__(self, value: str | None) -> str:
        if not value:
            return NONE
        roles = sorted(set(value.split("+")))
        if self._known is not None:
            roles = [role for role in roles if role in self._known]
            if not roles:
                return OTHER
        joined = "+".join(roles)
        if joined in self._seen or (self._known is not None and joined in self._known):
            return joined
        if len(self._seen) < self._cap:
            self._seen.add(joined)
            return joined
        return OTHER


def role_key(roles: Iterable[str] | None) -> str | None:
    """The raw ``role`` label value of a caller's roles (``RoleSetBound`` bounds it)."""
    return "+".join(sorted(set(roles))) if roles else None


def status_class(status: int) -> str:
    """``2xx`` for 200..299...; a status not set yet (0) is a success."""
    return f"{status // 100}xx" if 100 <= status < 600 else "2xx"


class _Family(Generic[M]):
    """A labelled metric whose children are cached by raw label values."""

    __slots__ = ("_bounds", "_cache", "_limit", "metric")

    def __init__(self, metric: M, bounds: tuple[LabelBound, ...], limit: int = 4096) -> None:
        self.metric: M = metric
        self._bounds = bounds
        self._cache: dict[tuple[str | None, ...], M] = {}
        self._limit = limit  # raw values are unbounded; the cache must not be

    def child(self, *values: str | None) -> M:
        found = self._cache.get(values)
        if found is None:
            found = self.metric.labels(*[bound(v) for bound, v in zip(self._bounds, values, strict=True)])
            if len(self._cache) < self._limit:
                self._cache[values] = found
        return found

    def forget(self) -> None:
        self._cache.clear()


class Metrics:
    """All gateway metrics. Create one in the app lifespan; pass it to whoever observes."""

    def __init__(self, *, label_cap: int = 64, process: bool = True) -> None:
        self.registry = CollectorRegistry()
        if process:
            ProcessCollector(registry=self.registry)
        self._cap = label_cap
        self._models = LabelBound(label_cap)
        self._roles = RoleSetBound(label_cap)
        self._route, self._reason = LabelBound(label_cap), LabelBound(label_cap)
        self._define_request_metrics()
        self._define_usage_metrics()
        self._define_routing_metrics()
        self._define_operations_metrics()
        self._define_mcp_metrics()
        self._define_shadow_metrics()
        self._request_cache: dict[tuple[str | None, ...], Counter] = {}

    def _define_request_metrics(self) -> None:
        route = {"route": self._route}
        self._requests = self._counter(
            "requests",
            "Requests by outcome.",
            {
                "route": self._route,
                "decision": LabelBound(8),
                "reason": self._reason,
                "model": self._models,
                "role": self._roles,
                "status_class": LabelBound(5, known=STATUS_CLASSES),
            },
        )
        self._duration = self._loop_histogram(
            "request_duration_seconds",
            "Whole request, as the client sees it, by route and model.",
            {"route": self._route, "model": self._models},
            REQUEST_BUCKETS,
        )
        self._ttft = self._loop_histogram(
            "time_to_first_token_seconds",
            "Streams: from the request's arrival to the first answer bytes sent to the caller.",
            {"model": self._models},
            TTFT_BUCKETS,
        )
        self._overhead = self._loop_histogram(
            "overhead_seconds", "Time the gateway adds: duration minus upstream time.", route, FAST_BUCKETS
        )
        stage, provider = {"stage": LabelBound(self._cap)}, LabelBound(self._cap)
        self._stage = self._loop_histogram(
            "stage_duration_seconds", "Time per pipeline stage.", stage, FAST_BUCKETS
        )
        self._upstream = self._histogram(
            "upstream_duration_seconds",
            "Upstream call until its answer (a buffered answer: whole; a stream: its start), by model.",
            {"provider": provider, "model": self._models},
            SLOW_BUCKETS,
        )
        errors = {"provider": provider, "reason": self._reason}
        self._upstream_errors = self._counter("upstream_errors", "Failed upstream calls.", errors)
        self._attempts = self._counter(
            "upstream_attempts",
            "Upstream attempts (retries, fallbacks) by model and outcome (ok, status_<code>, a reason).",
            {"model": self._models, "outcome": LabelBound(self._cap)},
        )

    def _define_usage_metrics(self) -> None:
        by_model = {"model": self._models, "role": self._roles}
        direction = {"direction": LabelBound(2, known=("input", "output")), **by_model}
        self._tokens = self._counter("tokens", "Tokens by direction (input/output).", direction)
        self._cost = self._counter("cost_usd", "Spend in US dollars.", by_model)
        entity = {"entity": LabelBound(self._cap)}
        self._guard = self._counter("guard_entities", "PII entities found by the guard.", entity)

    def _define_routing_metrics(self) -> None:
        # Tasks are a closed vocabulary and reasons two codes: bounded by construction.
        task = LabelBound(len(TASKS), known=TASKS)
        self._tasks = self._counter(
            "task_calls", "Calls that declared a task (x-skein-task).", {"task": task, "role": self._roles}
        )
        self._downshifts = self._counter(
            "downshifts",
            "Calls served by a cheaper model than asked for, by reason (budget or task).",
            {"reason": LabelBound(2, known=DOWNSHIFT_REASONS), "role": self._roles, "task": task},
        )
        # Labelled by configured provider entries only (watch_breakers): bounded by the config.
        self._breaker_state = Gauge(
            "skein_breaker_state",
            "Circuit breaker of each deployment: 0 closed, 1 half-open, 2 open.",
            ("deployment",),
            registry=self.registry,
        )

    def _define_operations_metrics(self) -> None:
        self._audit = self._counter(
            "audit_events", "Audit events by result.", {"result": LabelBound(5, known=_AUDIT_RESULTS)}
        )
        self._bundle_loads = self._counter(
            "bundle_load", "Bundle loads by result.", {"result": LabelBound(3, known=_BUNDLE_RESULTS)}
        )
        self._policy_faults = self._counter(
            "policy_engine_faults",
            "Decisions that failed inside the embedded policy engine (each a 503), by kind.",
            {"kind": LabelBound(3, known=_POLICY_FAULTS)},
        )
        registry = self.registry
        self._bundle_load_time = Histogram(
            "skein_bundle_load_duration_seconds",
            "Bundle read + compile.",
            registry=registry,
            buckets=SLOW_BUCKETS,
        )
        self._queue_depth = Gauge(
            "skein_audit_queue_depth",
            "Audit records in the local spool that the store (SQLite or Postgres) does not hold yet.",
            registry=registry,
        )
        self._spool_bytes = Gauge(
            "skein_audit_spool_bytes",
            "Bytes of those records in the spool (0 when caught up).",
            registry=registry,
        )
        self._dependency_up = Gauge(
            "skein_dependency_up",
            "1 while a dependency works, 0 while it fails (audit_spool, audit_store, redis).",
            ("dependency",),
            registry=registry,
        )
        info = ("revision", "digest")
        self._bundle_info = Gauge("skein_bundle_info", "The active bundle (1).", info, registry=registry)
        # Present at zero from the start, so alerts and rate() see them before the first event.
        for result in _AUDIT_RESULTS:
            self._audit.child(result)
        for loaded in _BUNDLE_RESULTS:
            self._bundle_loads.child(loaded)
        for kind in _POLICY_FAULTS:
            self._policy_faults.child(kind)

    def _define_mcp_metrics(self) -> None:
        # Servers are the configured ones and methods MCP's own (set_mcp_labels), else "other".
        self._mcp_servers, self._mcp_methods = (
            LabelBound(self._cap, known=()),
            LabelBound(self._cap, known=()),
        )
        decision = LabelBound(8)
        self._mcp_messages = self._counter(
            "mcp_messages",
            "MCP messages by server, method and outcome (allow, deny, approval, error).",
            {"server": self._mcp_servers, "method": self._mcp_methods, "decision": decision},
        )
        self._tool_calls = self._counter(
            "tool_calls",
            "MCP tools/call by server, tool and outcome (allow, deny, approval, error).",
            {"server": self._mcp_servers, "tool": LabelBound(4 * self._cap), "decision": decision},
        )
        self._tools_hidden = self._counter(
            "tools_hidden", "Tools a listing hid from the caller (policy).", {"server": self._mcp_servers}
        )

    def _define_shadow_metrics(self) -> None:
        self._shadow_disagreements = self._counter(
            "shadow_disagreements",
            "Live decisions the shadow bundle would have taken differently, by kind"
            " (allow_to_deny, deny_to_allow, model, guard, approval, reasons, error).",
            {"kind": LabelBound(len(SHADOW_KINDS), known=SHADOW_KINDS)},
        )
        self._shadow_evaluations = Counter(
            "skein_shadow_evaluations", "Live decisions the shadow bundle evaluated.", registry=self.registry
        )
        self._shadow_dropped = Counter(
            "skein_shadow_dropped",
            "Live decisions not shadowed because the shadow queue was full.",
            registry=self.registry,
        )
        for kind in SHADOW_KINDS:
            self._shadow_disagreements.child(kind)

    def count_shadow(self, disagreement: str | None) -> None:
        """One shadow evaluation, and its disagreement with the live decision (if any)."""
        self._shadow_evaluations.inc()
        if disagreement is not None:
            self._shadow_disagreements.child(disagreement).inc()

    def count_shadow_dropped(self) -> None:
        self._shadow_dropped.inc()

    def _counter(self, name: str, doc: str, labels: dict[str, LabelBound]) -> _Family[Counter]:
        metric = Counter(f"skein_{name}", doc, tuple(labels), registry=self.registry)
        return _Family(metric, tuple(labels.values()))

    def _loop_histogram(
        self, name: str, doc: str, labels: dict[str, LabelBound], buckets: tuple[float, ...]
    ) -> LoopHistogram:
        histogram = LoopHistogram(f"skein_{name}", doc, tuple(labels), buckets, tuple(labels.values()))
        self.registry.register(histogram)
        return histogram

    def _histogram(
        self, name: str, doc: str, labels: dict[str, LabelBound], buckets: tuple[float, ...]
    ) -> _Family[Histogram]:
        metric = Histogram(f"skein_{name}", doc, tuple(labels), registry=self.registry, buckets=buckets)
        return _Family(metric, tuple(labels.values()))

    # -- label sets ------------------------------------------------------------------------

    def set_known_labels(self, *, models: Iterable[str], roles: Iterable[str]) -> None:
        """Declare the models and roles of the active bundle; others are counted as ``other``."""
        self._models.set_known(models)
        self._roles.set_known(roles)
        self._request_cache.clear()
        families = (
            self._requests,
            self._tokens,
            self._cost,
            self._upstream,
            self._tasks,
            self._downshifts,
            self._attempts,
        )
        for family in families:
            family.forget()
        self._ttft.forget()
        self._duration.forget()

    # -- the request path --------------------------------------------------------------------

    def observe_request(
        self,
        route: str,
        decision: str,
        reason: str | None,
        model: str | None,
        role: str | None,
        duration_s: float,
        overhead_s: float,
        status: int = 200,
    ) -> None:
        """One call. ``role``: ``role_key`` of the caller's roles; ``status``: what the caller got."""
        key = (route, decision, reason, model, role, status_class(status))
        counter = self._request_cache.get(key)
        if counter is None:
            counter = self._requests.child(*key)
            if len(self._request_cache) < 4096:
                self._request_cache[key] = counter
        counter.inc()
        self._duration.observe((route, model), duration_s)
        self._overhead.observe((route,), overhead_s)

    def observe_stage(self, stage: str, seconds: float) -> None:
        self._stage.observe((stage,), seconds)

    def observe_stages(self, seconds_by_stage: Mapping[str, float]) -> None:
        observe = self._stage.observe
        for stage, seconds in seconds_by_stage.items():
            observe((stage,), seconds)

    def observe_upstream(self, provider: str, seconds: float, model: str | None = None) -> None:
        self._upstream.child(provider, model).observe(seconds)

    def observe_ttft(self, model: str | None, seconds: float) -> None:
        self._ttft.observe((model,), seconds)

    def count_attempt(self, model: str, outcome: str) -> None:
        self._attempts.child(model, outcome).inc()

    def count_upstream_error(self, provider: str, reason: str) -> None:
        self._upstream_errors.child(provider, reason).inc()

    def observe_usage(
        self, model: str | None, role: str | None, tokens_in: int, tokens_out: int, cost_usd: float
    ) -> None:
        if tokens_in:
            self._tokens.child("input", model, role).inc(tokens_in)
        if tokens_out:
            self._tokens.child("output", model, role).inc(tokens_out)
        if cost_usd > 0:
            self._cost.child(model, role).inc(cost_usd)

    def count_task(self, task: str, role: str | None) -> None:
        self._tasks.child(task, role).inc()

    def count_downshift(self, reason: str, role: str | None, task: str | None) -> None:
        self._downshifts.child(reason, role, task).inc()

    def count_guard_entities(self, counts: Mapping[str, int]) -> None:
        for entity, count in counts.items():
            if count:
                self._guard.child(entity).inc(count)

    # -- MCP -----------------------------------------------------------------------------------

    def set_mcp_labels(self, *, servers: Iterable[str], methods: Iterable[str]) -> None:
        """Declare the configured MCP servers and the known methods; others count as ``other``."""
        self._mcp_servers.set_known(servers)
        self._mcp_methods.set_known(methods)

    def observe_mcp(self, server: str | None, method: str | None, tool: str | None, decision: str) -> None:
        self._mcp_messages.child(server, method, decision).inc()
        if method == "tools/call":
            self._tool_calls.child(server, tool, decision).inc()

    def count_tools_hidden(self, server: str, count: int) -> None:
        if count:
            self._tools_hidden.child(server).inc(count)

    # -- audit and bundles ---------------------------------------------------------------

    def count_audit(self, result: AuditResult, events: int = 1) -> None:
        self._audit.child(result).inc(events)

    def set_audit_queue_depth(self, depth: int) -> None:
        self._queue_depth.set(depth)

    def watch_audit(self, *, depth: Callable[[], float], spool_bytes: Callable[[], float]) -> None:
        """Read the audit backlog from its owner at scrape time (exact, and free per request)."""
        self._queue_depth.set_function(depth)
        self._spool_bytes.set_function(spool_bytes)

    def watch_breakers(self, breakers: Breakers) -> None:
        """Each deployment's breaker, read at scrape time (0 closed, 1 half-open, 2 open)."""
        for name, breaker in breakers.by_name.items():
            self._breaker_state.labels(name).set_function(functools.partial(_breaker_value, breaker))

    def watch_dependency(self, dependency: Dependency, up: Callable[[], bool]) -> None:
        self._dependency_up.labels(dependency).set_function(lambda: 1.0 if up() else 0.0)

    def set_bundle(self, revision: str, digest: str) -> None:
        """Mark the active bundle; the previous one's series goes away."""
        self._bundle_info.clear()
        self._bundle_info.labels(revision, digest).set(1)

    def count_bundle_load(self, result: BundleLoadResult) -> None:
        self._bundle_loads.child(result).inc()

    def observe_bundle_load(self, ok: bool, seconds: float) -> None:
        """A load attempt by the bundle store: its result and how long read + compile took."""
        self._bundle_loads.child("ok" if ok else "error").inc()
        self._bundle_load_time.observe(seconds)

    def count_policy_fault(self, kind: PolicyFaultKind) -> None:
        """A decision that failed inside the engine: an error, a caught panic, a bad result."""
        self._policy_faults.child(kind).inc()

    # -- exposition --------------------------------------------------------------------------

    def render(self) -> tuple[bytes, str]:
        """The ``/metrics`` body and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    def metric_names(self) -> frozenset[str]:
        """Every sample name this registry can expose (``_total``, ``_bucket``... included)."""
        names: set[str] = set()
        for family in self.registry.collect():
            names.update(family.name + suffix for suffix in _SAMPLE_SUFFIXES.get(family.type, ("",)))
            names.update(sample.name for sample in family.samples)
        return frozenset(names)


def _breaker_value(breaker: Breaker) -> float:
    return STATE_VALUES[breaker.state()]
