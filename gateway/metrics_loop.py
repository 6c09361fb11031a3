"""Histograms for the event loop's hot path: plain lists, no lock, built into Prometheus
families only when scraped.

``prometheus_client``'s ``Histogram`` takes a lock and walks its buckets on every observation,
about two microseconds each; a proxied call observes a dozen (each pipeline stage, the whole
request, the gateway's overhead). Every observation of these histograms happens on the event
loop thread, and so does the scrape (``/metrics``), so a lock buys nothing here: an observation
is a bisect and two additions. The exposition is the standard histogram (``_bucket`` with
``le``, ``_sum``, ``_count``), so dashboards and alerts cannot tell the difference.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator

from prometheus_client.core import HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

Bound = Callable[[str | None], str]


class LoopHistogram(Collector):
    def __init__(
        self,
        name: str,
        doc: str,
        labels: tuple[str, ...],
        buckets: tuple[float, ...],
        bounds: tuple[Bound, ...],
    ) -> None:
        self._name, self._doc, self._labels = name, doc, labels
        self._uppers = buckets
        self._bounds = bounds
        self._series: dict[tuple[str, ...], tuple[list[int], list[float]]] = {}
        self._aliases: dict[tuple[str | None, ...], tuple[list[int], list[float]]] = {}

    def observe(self, values: tuple[str | None, ...], seconds: float) -> None:
        series = self._aliases.get(values)
        if series is None:
            series = self._series_for(values)
        series[0][bisect_left(self._uppers, seconds)] += 1
        series[1][0] += seconds

    def forget(self) -> None:
        """Drop the raw-value cache (the bounds changed: a value may map elsewhere now)."""
        self._aliases.clear()

    def _series_for(self, values: tuple[str | None, ...]) -> tuple[list[int], list[float]]:
        labels = tuple(bound(v) for bound, v in zip(self._bounds, values, strict=True))
        series = self._series.get(labels)
        if series is None:
            series = self._series[labels] = ([0] * (len(self._uppers) + 1), [0.0])
        if len(self._aliases) < 4096:  # raw values are unbounded; this cache must not be
            self._aliases[values] = series
        return series

    def collect(self) -> Iterator[Metric]:
        family = HistogramMetricFamily(self._name, self._doc, labels=list(self._labels))
        for labels, (counts, total) in self._series.items():
            cumulative, buckets = 0, []
            for upper, count in zip((*self._uppers, float("inf")), counts, strict=True):
                cumulative += count
                buckets.append((_le(upper), cumulative))
            family.add_metric(list(labels), buckets, total[0])
        yield family

    def describe(self) -> Iterator[Metric]:
        yield HistogramMetricFamily(self._name, self._doc, labels=list(self._labels))


def _le(upper: float) -> str:
    return "+Inf" if upper == float("inf") else repr(float(upper))
