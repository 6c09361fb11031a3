"""What happened to one request so far. It becomes the audit event and the metrics at the end.

A ``Trail`` is created when a request arrives and closed exactly once (``close``), in a
``finally`` of the handler, or, for streams, of the response body, so that every exit path
(errors, denials, a client that disconnects mid-stream) leaves a complete record.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any

from gateway.audit.event import AuditEvent, redacted_input
from gateway.domain import CallView, Decision, Principal, Usage
from gateway.errors import GatewayError, is_refusal

CLIENT_CLOSED = 499  # ClientDisconnected's status (nginx's "client closed request")
UPSTREAM_STATUS = "upstream_status"  # the reason of an upstream's error answer, passed through


def new_id() -> str:
    return os.urandom(12).hex()


@dataclass(slots=True)
class Trail:
    route: str
    action: str
    request_id: str = field(default_factory=new_id)
    started: float = field(default_factory=perf_counter)
    wall_start: float = field(default_factory=time.time)
    principal: Principal | None = None
    view: CallView | None = None
    decision: Decision | None = None
    decision_id: str = ""
    policy_input: dict[str, Any] | None = None  # what decide asked (audit keeps it redacted)
    policy_decision: Decision | None = None  # what policy answered, when the re-check overruled it
    bundle_revision: str | None = None
    bundle_digest: str | None = None
    provider: str | None = None
    served_model: str | None = None
    task: str | None = None  # the declared task (x-skein-task), a member of signing.schema.TASKS
    upstream_status: int | None = None
    upstream_seconds: float = 0.0
    first_byte_seconds: float | None = None  # a stream's first answer bytes, since arrival
    usage: Usage | None = None
    cost_usd: float = 0.0
    guard_entities: dict[str, int] = field(default_factory=dict)
    status: int = 0
    error: GatewayError | None = None
    stages: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # extra reason codes for audit (guard_failed_open)
    resource: dict[str, Any] = field(default_factory=dict)  # what was acted on (an MCP server, tool)
    closed: bool = False

    def mark(self, stage: str, since: float) -> float:
        """Record the time spent in ``stage`` since ``since``; returns now for chaining."""
        now = perf_counter()
        self.stages[stage] = (now - since) * 1000.0
        return now

    def fail(self, error: GatewayError) -> None:
        self.error = error
        self.status = error.status

    def elapsed(self) -> float:
        return perf_counter() - self.started

    def overhead(self) -> float:
        """Seconds the gateway itself added: everything but waiting for the upstream."""
        return max(0.0, self.elapsed() - self.upstream_seconds)

    def reason(self) -> str:
        if self.error is not None:
            return self.error.reason
        if self.status >= 400:  # the upstream's own error answer, passed through
            return UPSTREAM_STATUS
        return self.decision.first_reason if self.decision else "none"

    def outcome(self) -> str:
        """One word for metrics and traces (docs/observability.md):

        * ``allow``: answered, 1xx..3xx;
        * ``deny``: refused by the gateway (authentication, policy, a budget, a rate limit, a
          malformed or oversized request: any 4xx the gateway answered itself);
        * ``cancelled``: the client left first (499);
        * ``error``: failed: a 5xx of the gateway's, an unreachable or broken upstream, or an
          upstream that answered with an error status (its 429s and 500s, passed through)."""
        error = self.error
        if error is None:
            return "error" if self.status >= 400 else "allow"
        if is_refusal(error) or (400 <= error.status < 500 and error.status != CLIENT_CLOSED):
            return "deny"
        return "cancelled" if error.status == CLIENT_CLOSED else "error"

    def allowed(self) -> bool:
        """A refusal by any layer is a deny; otherwise the decision's answer, or (no decision:
        audit reads, malformed requests) allowed when nothing went wrong."""
        if is_refusal(self.error):
            return False
        return self.decision.allow if self.decision else self.error is None

    def to_event(self, instance_id: str) -> AuditEvent:
        principal, view, decision = self.principal, self.view, self.decision
        latency = dict(self.stages)
        latency["upstream"] = self.upstream_seconds * 1000.0
        latency["total"] = self.elapsed() * 1000.0
        reasons = tuple(r.code for r in decision.reasons) if decision else ()
        if self.error is not None and self.error.reason not in reasons:
            reasons = (self.error.reason, *reasons)
        if self.notes:
            reasons = (*reasons, *self.notes)
        policy_input = self.policy_input
        return AuditEvent(
            id=new_id(),
            ts=self.wall_start,
            request_id=self.request_id,
            route=self.route,
            action=self.action,
            decision_id=self.decision_id,
            sub=principal.sub if principal else None,
            roles=principal.roles if principal else (),
            tenant=principal.tenant if principal else None,
            auth_method=principal.method if principal else None,
            requested_model=view.model if view else None,
            served_model=self.served_model,
            provider=self.provider,
            resource=dict(self.resource),
            allow=self.allowed(),
            reasons=reasons,
            status=self.status,
            upstream_status=self.upstream_status,
            stream=bool(view and view.stream),
            guard_entities=dict(self.guard_entities),
            tokens_in=self.usage.tokens_in if self.usage else 0,
            tokens_out=self.usage.tokens_out if self.usage else 0,
            cost_usd=self.cost_usd,
            latency_ms=latency,
            bundle_revision=self.bundle_revision,
            bundle_digest=self.bundle_digest,
            explain=self.explain(),
            policy_input=redacted_input(policy_input) if policy_input is not None else None,
            instance_id=instance_id,
        )

    def explain(self) -> dict[str, Any]:
        """The reasons with their messages, and what the decision said beside allow."""
        decision, error = self.decision, self.error
        explained: list[dict[str, str]] = []
        if error is not None and not (decision and error.reasons == decision.reasons):
            explained += [r.as_dict() for r in error.reasons] or [
                {"code": error.reason, "message": error.message}
            ]
        if decision is not None:
            explained += [r.as_dict() for r in decision.reasons]
        result: dict[str, Any] = {"reasons": explained}
        # The policy's own answer (replay compares with it), even where the re-check
        # against the profiles overruled it (then ``overruled`` says so).
        decided = self.policy_decision or decision
        if decided is not None:
            result["decision"] = {
                "allow": decided.allow,
                "reasons": [r.code for r in decided.reasons],
                "model": decided.model,
                "guard": decided.guard.mode,
                "approval_required": decided.approval_required,
            }
            if self.policy_decision is not None:
                result["decision"]["overruled"] = True
        return result
