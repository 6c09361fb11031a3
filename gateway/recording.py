"""The last step of every call: its audit event and its metrics, from the call's trail.

One vocabulary for outcomes: a call refused by anyone (authentication, policy, a budget, a
rate limit) is a *deny* (``allow: false`` in audit, ``decision="deny"`` in metrics) with its
reason; an allowed call that failed later (a provider error, a guard outage) keeps
``allow: true`` and counts as an *error*. Metrics add (``Trail.outcome``): any other 4xx the
gateway answered itself (a malformed body, ``pii_blocked``) is a *deny* too, a provider's own
error answer passed through (its 429, its 500) an *error*, and a client that left *cancelled*;
``status_class`` says what the caller got.

Durable before answered: ``record`` returns once the call's event is in the audit spool
(``AuditWriter.record``), and raises ``Unavailable`` (503 ``audit_unavailable``) when it
cannot be, so that the caller gets that instead of an answer without its record.

Unauthenticated traffic cannot grow the audit log without bound: per ``window_s`` each
instance writes the first ``unauthenticated_per_window`` failed authentications as events of
their own, and folds the rest into one summary event per window (route
``(unauthenticated)``, action ``auth.summary``, reason counts in ``resource``). Metrics count
every one of them.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from gateway.audit.event import AuditEvent
from gateway.audit.writer import AuditWriter
from gateway.call import Call
from gateway.errors import GatewayError, Unauthenticated
from gateway.metrics import DOWNSHIFT_REASONS, Metrics, role_key
from gateway.trail import Trail, new_id


@dataclass(slots=True)
class UnauthenticatedBudget:
    """How many failed authentications per window get an audit event of their own."""

    per_window: int = 20
    window_s: float = 10.0
    _window_start: float = 0.0
    _written: int = 0
    _folded: Counter[str] = field(default_factory=Counter)

    def admit(self, reason: str, now: float) -> tuple[bool, dict[str, int] | None]:
        """(write this event?, the previous window's folded counts to summarise, if any)."""
        summary = None
        if now - self._window_start >= self.window_s:
            if self._folded:
                summary = dict(self._folded)
            self._window_start, self._written, self._folded = now, 0, Counter()
        if self._written < self.per_window:
            self._written += 1
            return True, summary
        self._folded[reason] += 1
        return False, summary


class Recorder:
    def __init__(
        self, audit: AuditWriter, metrics: Metrics, instance_id: str, unauthenticated: UnauthenticatedBudget
    ) -> None:
        self._audit = audit
        self._metrics = metrics
        self._instance_id = instance_id
        self._unauthenticated = unauthenticated

    async def record(self, call: Call) -> None:
        trail = call.trail
        try:
            if isinstance(trail.error, Unauthenticated):
                write, summary = self._unauthenticated.admit(trail.error.reason, time.time())
                if summary is not None:
                    self._audit.submit(self._summary(summary))
                if not write:
                    return
            await self._audit.record(trail.to_event(self._instance_id))
        except GatewayError as exc:
            trail.fail(exc)  # what the caller gets instead, and what the metrics count
            raise
        finally:
            self._observe(trail)

    def _summary(self, counts: dict[str, int]) -> AuditEvent:
        window = self._unauthenticated.window_s
        return AuditEvent(
            id=new_id(),
            ts=time.time(),
            request_id=new_id(),
            route="(unauthenticated)",
            action="auth.summary",
            resource={"folded": counts, "window_seconds": window},
            allow=False,
            reasons=tuple(sorted(counts)),
            status=401,
            instance_id=self._instance_id,
        )

    def _observe(self, trail: Trail) -> None:
        principal, view = trail.principal, trail.view
        role = role_key(principal.roles if principal else None)  # every role, once (gateway/metrics/)
        model = trail.served_model or (view.model if view else None)
        metrics = self._metrics
        metrics.observe_request(
            trail.route,
            trail.outcome(),
            trail.reason(),
            model,
            role,
            trail.elapsed(),
            trail.overhead(),
            trail.status,
        )
        if trail.first_byte_seconds is not None:
            metrics.observe_ttft(model, trail.first_byte_seconds)
        metrics.observe_stages({stage: ms / 1000.0 for stage, ms in trail.stages.items()})
        if trail.usage is not None:
            metrics.observe_usage(model, role, trail.usage.tokens_in, trail.usage.tokens_out, trail.cost_usd)
        if trail.guard_entities:
            metrics.count_guard_entities(trail.guard_entities)
        if trail.task is not None:
            metrics.count_task(trail.task, role)
        decision = trail.decision
        if decision is not None and decision.allow and decision.reasons:  # notes are rare: no loop per call
            for reason in decision.reasons:
                if reason.code in DOWNSHIFT_REASONS:
                    metrics.count_downshift(reason.code, role, trail.task)
