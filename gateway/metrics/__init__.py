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

One module per area, each a part of ``Metrics`` with its families and the methods that observe
them: ``traffic`` (requests, durations, stages), ``routing`` (upstream calls, attempts, tasks,
downshifts, breakers), ``usage`` (tokens, spend, guard entities), ``operations`` (audit, spool,
bundles, policy faults, dependencies), ``mcp``, ``shadow``; ``labels`` bounds label values and
``base`` holds the registry, the shared bounds and the bucket layouts.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gateway.metrics.base import FAST_BUCKETS, REQUEST_BUCKETS, SLOW_BUCKETS, TTFT_BUCKETS
from gateway.metrics.labels import (
    NONE,
    OTHER,
    STATUS_CLASSES,
    LabelBound,
    RoleSetBound,
    role_key,
    status_class,
)
from gateway.metrics.mcp import McpMetrics
from gateway.metrics.operations import (
    AuditResult,
    BundleLoadResult,
    Dependency,
    OperationsMetrics,
    PolicyFaultKind,
)
from gateway.metrics.routing import DOWNSHIFT_REASONS, RoutingMetrics
from gateway.metrics.shadow import SHADOW_KINDS, ShadowMetrics
from gateway.metrics.traffic import TrafficMetrics
from gateway.metrics.usage import UsageMetrics

# What importers of the single module that preceded this package used; kept importable here.
__all__ = [
    "DOWNSHIFT_REASONS",
    "FAST_BUCKETS",
    "NONE",
    "OTHER",
    "REQUEST_BUCKETS",
    "SHADOW_KINDS",
    "SLOW_BUCKETS",
    "STATUS_CLASSES",
    "TTFT_BUCKETS",
    "AuditResult",
    "BundleLoadResult",
    "Dependency",
    "LabelBound",
    "Metrics",
    "PolicyFaultKind",
    "RoleSetBound",
    "role_key",
    "status_class",
]

# Suffixes the exposition format adds to a family's name, by type.
_SAMPLE_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "gauge": ("",),
}


class Metrics(TrafficMetrics, RoutingMetrics, UsageMetrics, OperationsMetrics, McpMetrics, ShadowMetrics):
    """All gateway metrics. Create one in the app lifespan; pass it to whoever observes."""

    def __init__(self, *, label_cap: int = 64, process: bool = True) -> None:
        super().__init__(label_cap=label_cap, process=process)
        # In this order: the registry exposes families in the order they were registered.
        self._define_request_metrics()
        self._define_upstream_metrics()
        self._define_usage_metrics()
        self._define_routing_metrics()
        self._define_operations_metrics()
        self._define_mcp_metrics()
        self._define_shadow_metrics()

    def set_known_labels(self, *, models: Iterable[str], roles: Iterable[str]) -> None:
        """Declare the models and roles of the active bundle; others are counted as ``other``."""
        self._models.set_known(models)
        self._roles.set_known(roles)
        # Cached children were bound under the old sets: a raw value may map elsewhere now.
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
