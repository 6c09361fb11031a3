"""Ask policy, then make sure the answer can stand.

After the profile stage (the caller's roles exist) and before anything that costs money or
CPU: a denied call is never routed, charged or guarded. The model a caller names must be a
catalog name (or an alias the policy resolves) before policy sees it; the decision is then
re-checked against the profiles (``guardrails``), and a refusal is raised with one status per
reason whichever layer refuses: ``budget_exceeded`` and ``rate_limited`` are 429, every
other refusal 403. A decision that asks for an approval files one and refuses the call with
its id, until the call is retried naming the approved approval (``gateway/approvals.py``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any

from gateway.approvals import HEADER as APPROVAL_HEADER
from gateway.approvals import ApprovalGate, fingerprint, presented
from gateway.bundle.store import ActiveBundle
from gateway.call import Call
from gateway.domain import MODEL_ALIASES, CallView, Decision
from gateway.errors import BadRequest, Forbidden, GatewayError, RateLimited, Reason
from gateway.shadow import Shadow
from gateway.stages.base import Stage
from gateway.stages.guardrails import MODEL_ACTIONS, model_decision_problem
from gateway.state.usage import UsageStore
from gateway.trail import new_id
from signing.schema import TASKS

#: What the call is for (docs/routing.md): one of ``TASKS``, or absent.
TASK_HEADER = "x-skein-task"
_TASK_LIST = ", ".join(sorted(TASKS))
#: Refusals that mean "not now" rather than "not you": the same status from policy and Redis.
QUOTA_REASONS = frozenset({"budget_exceeded", "rate_limited"})
_CHECK_CACHE_LIMIT = 4096


class Decide(Stage):
    name = "decide"

    def __init__(
        self, usage: UsageStore, approvals: ApprovalGate | None = None, shadow: Shadow | None = None
    ) -> None:
        self._usage = usage
        self._approvals = approvals
        self._shadow = shadow
        self._checks: dict[tuple[object, ...], str | None] = {}
        self._clock = _UtcSeconds()

    async def enter(self, call: Call) -> None:
        bundle, view = call.bundle, call.view
        assert bundle is not None, "the profile stage runs first"
        if (
            view.model is not None
            and view.model not in bundle.catalog.models
            and view.model not in MODEL_ALIASES
        ):
            message = f"model {view.model} is not in the model catalog"
            raise Forbidden(message, reason="unknown_model", reasons=[Reason("unknown_model", message)])
        task = call.headers.get(TASK_HEADER)
        if task is not None:
            task = declared_task(task)
            call.trail.task = call.trail.resource["task"] = task
        call.policy_input = policy_input = await self.policy_input(call, task)
        decision = await bundle.engine.decide(policy_input)
        call.trail.decision, call.trail.decision_id = decision, new_id()
        call.trail.policy_input = policy_input  # a reference: audit redacts it when recording
        if self._shadow is not None:  # compared later, off this request's path
            self._shadow.submit(policy_input, decision, call.trail.decision_id)
        if decision.allow and view.action in MODEL_ACTIONS:
            problem = self._checked(decision, view, bundle, call.principal.roles)
            if problem is not None:
                reason = Reason("decision_invalid", f"the policy's decision was refused: {problem}")
                call.trail.policy_decision = decision  # what policy said: explain and replay show it
                decision = Decision(
                    allow=False, reasons=(reason,), model=decision.model, guard=decision.guard
                )
                call.trail.decision = decision
        if not decision.allow:
            raise refusal(decision)
        if decision.approval_required:
            await self._approved(call, decision)

    async def _approved(self, call: Call, decision: Decision) -> None:
        """Carry on only as the retry of an approved call (``gateway/approvals.py``): the
        ``x-skein-approval-id`` header names the approval, bound to the same body."""
        if self._approvals is None:  # no approvals store: the call cannot be approved
            message = "this call needs an approval first"
            raise Forbidden(
                message, reason="approval_required", reasons=[Reason("approval_required", message)]
            )
        bundle, principal, trail = call.bundle, call.principal, call.trail
        assert bundle is not None
        subject = f"{call.view.action}:{call.view.model}"  # as asked: a downshift must not void it
        bound_to = fingerprint(call.body)
        approval_id = presented(call.headers.get(APPROVAL_HEADER))
        if approval_id is not None:
            trail.resource["approval_id"] = approval_id
            await self._approvals.redeem(approval_id, principal, subject, bound_to)
            trail.notes.append("approval_redeemed")
            return
        profiles = [bundle.profiles[role] for role in principal.roles if role in bundle.profiles]
        payload = {
            "kind": "model.call",
            "route": trail.route,
            "model": decision.model,
            "request_id": trail.request_id,
        }
        refused = await self._approvals.request(principal, profiles, subject, bound_to, payload)
        trail.resource["approval_id"] = refused.details["approval_id"]
        raise refused

    def _checked(
        self, decision: Decision, view: CallView, bundle: ActiveBundle, roles: tuple[str, ...]
    ) -> str | None:
        """``model_decision_problem``, remembered: the same decision for the same call shape
        (decisions come from a cache, so they repeat) is checked once per bundle."""
        key = (bundle.revision, roles, view.model, view.max_tokens, decision)
        if key not in self._checks:
            if len(self._checks) >= _CHECK_CACHE_LIMIT:
                self._checks.clear()
            self._checks[key] = model_decision_problem(decision, view, bundle, roles)
        return self._checks[key]

    async def policy_input(self, call: Call, task: str | None = None) -> dict[str, Any]:
        """The policy contract's input (docs/policy-guide.md)."""
        principal, view, bundle = call.principal, call.view, call.bundle
        assert bundle is not None
        model = bundle.catalog.models.get(view.model) if view.model else None
        return {
            "principal": principal.policy_view(),
            "action": view.action,
            "resource": {"model": view.model, "provider": model.provider if model else None},
            "request": {
                "stream": view.stream,
                "max_tokens": view.max_tokens,
                "input_tokens_estimate": view.input_tokens_estimate,
            },
            "usage": coarse_usage(await self._usage.snapshot(principal.tenant, principal.sub)),
            "time": self._clock.now(),
            "task": task,
        }


def declared_task(value: str) -> str:
    """The ``x-skein-task`` header as a member of the closed vocabulary, or 400 ``invalid_task``.

    Only a vocabulary member reaches policy, audit and the metric labels: the caller's own
    string goes nowhere (not even into the error message, which lists what is accepted).
    """
    task = value.strip().lower()
    if task not in TASKS:
        raise BadRequest(
            f"header {TASK_HEADER} must be one of: {_TASK_LIST}",
            reason="invalid_task",
            details={"field": TASK_HEADER},
        )
    return task


class _UtcSeconds:
    """The policy input's time (RFC 3339, UTC, whole seconds), formatted once per second."""

    def __init__(self) -> None:
        self._second = -1
        self._text = ""

    def now(self) -> str:
        second = int(time.time())
        if second != self._second:
            self._second, self._text = second, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second))
        return self._text


def refusal(decision: Decision) -> GatewayError:
    first = decision.reasons[0] if decision.reasons else Reason("policy_denied", "denied by policy")
    kind = RateLimited if first.code in QUOTA_REASONS else Forbidden
    return kind(first.message, reason=first.code, reasons=decision.reasons or (first,))


def coarse(value: float) -> float:
    """Round up to two significant digits (12.34 -> 13, 0.01234 -> 0.013).

    Policy sees spend at this resolution so that consecutive calls of one caller give the
    same input and hit the decision cache; rounding *up* errs towards denying or
    downshifting a little early, never late. Exact enforcement of budgets is the job of the
    usage store's reserve-then-settle, not of policy.
    """
    if value <= 0:
        return 0.0
    step = 10.0 ** (math.floor(math.log10(value)) - 1)
    return round(math.ceil(value / step - 1e-9) * step, 12)


def coarse_usage(usage: Mapping[str, float]) -> dict[str, float]:
    return {key: coarse(value) for key, value in usage.items()}
