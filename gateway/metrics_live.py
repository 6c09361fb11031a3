"""Metrics read at scrape time from objects that already keep the numbers.

The audit spool's size and the shared-state failures that were let through (fail-open) are
kept by their owners; a collector reads them when Prometheus scrapes, so the request path
pays nothing for them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry


class LiveCollector(Collector):
    def __init__(
        self,
        spool_bytes: Callable[[], int] | None = None,
        state_failures: Mapping[str, int] | None = None,
    ) -> None:
        self._spool_bytes = spool_bytes
        self._state_failures = state_failures

    def collect(self) -> Iterator[Metric]:
        if self._spool_bytes is not None:
            spool = GaugeMetricFamily(
                "skein_audit_spool_bytes",
                "Bytes of audit events waiting in the local spool for the database (0 when healthy)",
            )
            spool.add_metric([], float(self._spool_bytes()))
            yield spool
        if self._state_failures is not None:
            failures = CounterMetricFamily(
                "skein_state_errors",
                "Shared-state (Redis) failures let through by a fail-open feature, or settles lost",
                labels=["feature"],
            )
            for feature, count in sorted(self._state_failures.items()):
                failures.add_metric([feature], float(count))
            yield failures


def watch(
    registry: CollectorRegistry,
    *,
    spool_bytes: Callable[[], int] | None = None,
    state_failures: Mapping[str, int] | None = None,
) -> None:
    if spool_bytes is not None or state_failures is not None:
        registry.register(LiveCollector(spool_bytes, state_failures))
