"""Metrics read at scrape time from objects that already keep the numbers.

The shared-state failures that were let through (fail-open) are kept by their owner; a
collector reads them when Prometheus scrapes, so the request path pays nothing for them.
(The audit backlog gauges are read the same way, through ``Metrics.watch_audit``.)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

# The fail-open features (gateway/state/redis_client.py), present at zero from the start so
# that rate() and the alerts see them before the first failure.
STATE_FEATURES = ("budgets", "budgets_settle", "idempotency", "rate_limits", "usage_snapshot")


class LiveCollector(Collector):
    def __init__(self, state_failures: Mapping[str, int] | None = None) -> None:
        self._state_failures = state_failures

    def collect(self) -> Iterator[Metric]:
        if self._state_failures is not None:
            failures = CounterMetricFamily(
                "skein_state_errors",
                "Shared-state (Redis) failures let through by a fail-open feature, or settles lost",
                labels=["feature"],
            )
            counts = {feature: 0 for feature in STATE_FEATURES} | dict(self._state_failures)
            for feature, count in sorted(counts.items()):
                failures.add_metric([feature], float(count))
            yield failures


def watch(registry: CollectorRegistry, *, state_failures: Mapping[str, int] | None = None) -> None:
    if state_failures is not None:
        registry.register(LiveCollector(state_failures))
