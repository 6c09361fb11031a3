"""Request and decision metrics: every call's outcome, how long it took and where the time went
(whole request, first token, the gateway's overhead, each pipeline stage)."""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import Counter

from gateway.metrics.base import FAST_BUCKETS, REQUEST_BUCKETS, TTFT_BUCKETS, MetricsBase
from gateway.metrics.labels import STATUS_CLASSES, LabelBound, status_class


class TrafficMetrics(MetricsBase):
    def _define_request_metrics(self) -> None:
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
        # The hot path's own cache of ``_requests`` children, keyed by the raw values plus the
        # status class: one dict lookup per call.
        self._request_cache: dict[tuple[str | None, ...], Counter] = {}
        self._define_request_timings()

    def _define_request_timings(self) -> None:
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
        route = {"route": self._route}
        self._overhead = self._loop_histogram(
            "overhead_seconds", "Time the gateway adds: duration minus upstream time.", route, FAST_BUCKETS
        )
        stage = {"stage": LabelBound(self._cap)}
        self._stage = self._loop_histogram(
            "stage_duration_seconds", "Time per pipeline stage.", stage, FAST_BUCKETS
        )

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

    def observe_ttft(self, model: str | None, seconds: float) -> None:
        self._ttft.observe((model,), seconds)
