"""Upstream and routing metrics: upstream calls and their failures, attempts (retries and
fallbacks), declared tasks, downshifts to cheaper models, and each deployment's breaker."""

from __future__ import annotations

import functools

from prometheus_client import Gauge

from gateway.metrics.base import SLOW_BUCKETS, MetricsBase
from gateway.metrics.labels import LabelBound
from gateway.upstream.breaker import STATE_VALUES, Breaker, Breakers
from signing.schema import TASKS

#: Decision notes that change the served model (policies/budgets.rego, policies/routing.rego).
DOWNSHIFT_REASONS = frozenset({"model_downshifted", "task_downshifted"})


class RoutingMetrics(MetricsBase):
    def _define_upstream_metrics(self) -> None:
        provider = LabelBound(self._cap)
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

    def observe_upstream(self, provider: str, seconds: float, model: str | None = None) -> None:
        self._upstream.child(provider, model).observe(seconds)

    def count_attempt(self, model: str, outcome: str) -> None:
        self._attempts.child(model, outcome).inc()

    def count_upstream_error(self, provider: str, reason: str) -> None:
        self._upstream_errors.child(provider, reason).inc()

    def count_task(self, task: str, role: str | None) -> None:
        self._tasks.child(task, role).inc()

    def count_downshift(self, reason: str, role: str | None, task: str | None) -> None:
        self._downshifts.child(reason, role, task).inc()

    def watch_breakers(self, breakers: Breakers) -> None:
        """Each deployment's breaker, read at scrape time (0 closed, 1 half-open, 2 open)."""
        for name, breaker in breakers.by_name.items():
            self._breaker_state.labels(name).set_function(functools.partial(_breaker_value, breaker))


def _breaker_value(breaker: Breaker) -> float:
    return STATE_VALUES[breaker.state()]
