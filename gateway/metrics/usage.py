"""Usage metrics: tokens and spend by model and role, and the PII entities the guard found."""

from __future__ import annotations

from collections.abc import Mapping

from gateway.metrics.base import MetricsBase
from gateway.metrics.labels import LabelBound


class UsageMetrics(MetricsBase):
    def _define_usage_metrics(self) -> None:
        by_model = {"model": self._models, "role": self._roles}
        direction = {"direction": LabelBound(2, known=("input", "output")), **by_model}
        self._tokens = self._counter("tokens", "Tokens by direction (input/output).", direction)
        self._cost = self._counter("cost_usd", "Spend in US dollars.", by_model)
        entity = {"entity": LabelBound(self._cap)}
        self._guard = self._counter("guard_entities", "PII entities found by the guard.", entity)

    def observe_usage(
        self, model: str | None, role: str | None, tokens_in: int, tokens_out: int, cost_usd: float
    ) -> None:
        if tokens_in:
            self._tokens.child("input", model, role).inc(tokens_in)
        if tokens_out:
            self._tokens.child("output", model, role).inc(tokens_out)
        if cost_usd > 0:
            self._cost.child(model, role).inc(cost_usd)

    def count_guard_entities(self, counts: Mapping[str, int]) -> None:
        for entity, count in counts.items():
            if count:
                self._guard.child(entity).inc(count)
