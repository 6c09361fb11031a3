"""Shadow metrics: live decisions the shadow bundle evaluated, dropped, or would have taken
differently (docs/policy-guide.md, "Shadow")."""

from __future__ import annotations

from prometheus_client import Counter

from gateway.metrics.base import MetricsBase
from gateway.metrics.labels import LabelBound

#: How a shadow (or candidate) decision can differ from the live one, most telling first.
SHADOW_KINDS = ("allow_to_deny", "deny_to_allow", "model", "guard", "approval", "reasons", "error")


class ShadowMetrics(MetricsBase):
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
