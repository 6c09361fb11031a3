"""Operations metrics: audit records and the spool's backlog, bundle loads and the active
bundle, faults of the embedded policy engine, and the dependencies /readyz checks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from prometheus_client import Gauge, Histogram

from gateway.metrics.base import SLOW_BUCKETS, MetricsBase
from gateway.metrics.labels import LabelBound

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


class OperationsMetrics(MetricsBase):
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
        self._define_operations_gauges()
        # Present at zero from the start, so alerts and rate() see them before the first event.
        for result in _AUDIT_RESULTS:
            self._audit.child(result)
        for loaded in _BUNDLE_RESULTS:
            self._bundle_loads.child(loaded)
        for kind in _POLICY_FAULTS:
            self._policy_faults.child(kind)

    def _define_operations_gauges(self) -> None:
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

    def count_audit(self, result: AuditResult, events: int = 1) -> None:
        self._audit.child(result).inc(events)

    def set_audit_queue_depth(self, depth: int) -> None:
        self._queue_depth.set(depth)

    def watch_audit(self, *, depth: Callable[[], float], spool_bytes: Callable[[], float]) -> None:
        """Read the audit backlog from its owner at scrape time (exact, and free per request)."""
        self._queue_depth.set_function(depth)
        self._spool_bytes.set_function(spool_bytes)

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
