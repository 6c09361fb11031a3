"""What every area's metrics build on: the per-app registry, the label bounds several areas
share, bucket layouts, and families whose children are cached by raw label values."""

from __future__ import annotations

from typing import Generic, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector

from gateway.metrics.labels import LabelBound, RoleSetBound
from gateway.metrics_loop import LoopHistogram

# Upstream calls: milliseconds to minutes (streams run long).
SLOW_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
# Whole requests: from a quarter millisecond (a refusal by the gateway alone) to minutes.
REQUEST_BUCKETS = (0.00025, 0.0005, 0.001, 0.0025, *SLOW_BUCKETS)
# Time to the first byte of a stream, as the caller sees it.
TTFT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# The gateway's own work: the budget is about a millisecond, so resolve below it.
FAST_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)

M = TypeVar("M", Counter, Gauge, Histogram)


class Family(Generic[M]):
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


class MetricsBase:
    """The registry and shared label bounds. Each area of metrics is a subclass that defines its
    families (``_define_*``) and the methods that observe them; ``Metrics`` combines them all,
    so an observation stays one method call (the request path pays for no delegation)."""

    def __init__(self, *, label_cap: int, process: bool) -> None:
        self.registry = CollectorRegistry()
        if process:
            ProcessCollector(registry=self.registry)
        self._cap = label_cap
        self._models = LabelBound(label_cap)
        self._roles = RoleSetBound(label_cap)
        self._route, self._reason = LabelBound(label_cap), LabelBound(label_cap)

    def _counter(self, name: str, doc: str, labels: dict[str, LabelBound]) -> Family[Counter]:
        metric = Counter(f"skein_{name}", doc, tuple(labels), registry=self.registry)
        return Family(metric, tuple(labels.values()))

    def _loop_histogram(
        self, name: str, doc: str, labels: dict[str, LabelBound], buckets: tuple[float, ...]
    ) -> LoopHistogram:
        histogram = LoopHistogram(f"skein_{name}", doc, tuple(labels), buckets, tuple(labels.values()))
        self.registry.register(histogram)
        return histogram

    def _histogram(
        self, name: str, doc: str, labels: dict[str, LabelBound], buckets: tuple[float, ...]
    ) -> Family[Histogram]:
        metric = Histogram(f"skein_{name}", doc, tuple(labels), registry=self.registry, buckets=buckets)
        return Family(metric, tuple(labels.values()))
