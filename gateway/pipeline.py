"""The request pipeline: the stages of a proxied call, in their order, and why that order.

    authenticate -> profile -> decide -> mask -> forward -> unmask/account -> audit (finally)

* authenticate first: nothing about a request is looked at, parsed or logged for an
  unknown caller, and the cheapest rejection comes first.
* profile before decide: the caller's roles must exist in the active bundle; an unknown role
  is refused here even if a policy bug would let it through (defense in depth).
* decide before mask: a denied call costs no PII analysis, and the decision says which guard
  mode applies.
* mask before forward: nothing leaves the building unmasked; a guard failure fails closed.
* account after the answer: real usage from the provider, not the estimate.
* audit in ``finally``: every exit path leaves exactly one record (``Trail.close``).

Each stage is a short method that records its own latency on the trail. The HTTP handlers
in ``gateway.http.proxy`` call them; no stage knows about HTTP or about the others.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from time import perf_counter
from typing import Any

from gateway.adapters.openai_text import TextSlots
from gateway.audit.writer import AuditWriter
from gateway.auth.authenticator import Authenticator
from gateway.bundle.store import ActiveBundle, BundleStore
from gateway.domain import CallView, Decision, Principal, Usage
from gateway.errors import Forbidden, GatewayError, Unauthenticated, Unavailable
from gateway.guarding import GuardStage
from gateway.metrics import Metrics
from gateway.settings import Settings
from gateway.state.budgets import Reservation
from gateway.state.idempotency import Claim, StoredResponse
from gateway.state.shared import SharedState
from gateway.state.usage import UsageStore
from gateway.trail import Trail, new_id
from gateway.upstream.base import Upstream, UpstreamResponse
from guard import GuardResult
from signing.schema import CatalogModel

ECHO = "echo"


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


@dataclass(frozen=True, slots=True)
class Route:
    """Where a decided call goes: the served model, its catalog entry and the upstream."""

    model: str
    info: CatalogModel
    upstream: Upstream

    @property
    def upstream_model(self) -> str:
        return self.info.upstream_name or self.model


@dataclass(frozen=True, slots=True)
class Gateway:
    """Long-lived resources (made in the app's lifespan) and the stages that use them."""

    settings: Settings
    metrics: Metrics
    authenticator: Authenticator
    bundles: BundleStore
    audit: AuditWriter
    upstreams: Mapping[str, Upstream]
    usage: UsageStore
    guard: GuardStage
    instance_id: str
    state: SharedState | None = None  # Redis: budgets, rate limits, idempotency (None: memory)

    # -- 1. authenticate --------------------------------------------------------------------
    async def authenticate(self, trail: Trail, authorization: str | None, api_key: str | None) -> Principal:
        t = perf_counter()
        principal = await self.authenticator.authenticate(authorization, api_key)
        trail.principal = principal
        trail.mark("authenticate", t)
        return principal

    # -- 2. profile + 3. decide -------------------------------------------------------------
    async def decide(
        self, trail: Trail, principal: Principal, view: CallView
    ) -> tuple[ActiveBundle, Decision]:
        t = perf_counter()
        trail.view = view
        bundle = self.bundles.current()
        trail.bundle_revision, trail.bundle_digest = bundle.revision, bundle.digest
        if not any(role in bundle.profiles for role in principal.roles):
            raise Forbidden(
                f"none of the roles {list(principal.roles)} has a profile in bundle {bundle.revision}",
                reason="unknown_role",
            )
        policy_input = await self._policy_input(bundle, principal, view)
        t = trail.mark("profile", t)
        decision = await bundle.engine.decide(policy_input)
        trail.decision, trail.decision_id = decision, new_id()
        trail.mark("decide", t)
        if not decision.allow:
            first = decision.reasons[0] if decision.reasons else None
            raise Forbidden(
                first.message if first else "denied by policy",
                reason=first.code if first else "policy_denied",
                reasons=decision.reasons,
            )
        return bundle, decision

    async def _policy_input(
        self, bundle: ActiveBundle, principal: Principal, view: CallView
    ) -> dict[str, Any]:
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
            "usage": coarse_usage(await self.usage.snapshot(principal.tenant, principal.sub)),
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }

    # -- 4. mask ----------------------------------------------------------------------------
    async def mask(
        self, trail: Trail, bundle: ActiveBundle, principal: Principal, decision: Decision, slots: TextSlots
    ) -> GuardResult | None:
        """Masks ``slots`` in place as the decision's guard spec says."""
        policy = self.guard.policy(bundle, principal, decision.guard)
        if policy is None:
            return None
        t = perf_counter()
        result = await self.guard.protect(slots, policy, principal.tenant)
        if result is not None:
            trail.guard_entities = dict(result.counts)
            if result.degraded:
                trail.notes.append("guard_failed_open")
        trail.mark("mask", t)
        return result

    # -- 5. forward -------------------------------------------------------------------------
    def route(self, trail: Trail, bundle: ActiveBundle, view: CallView, decision: Decision) -> Route:
        model = decision.model or view.model or ""
        info = bundle.catalog.models.get(model)
        if info is None:
            raise Forbidden(f"model {model!r} is not in the model catalog", reason="unknown_model")
        upstream = self.upstreams.get(info.provider)
        if upstream is None and not self.settings.providers:
            upstream = self.upstreams[ECHO]  # nothing configured: the quickstart's echo provider
        if upstream is None:
            raise Unavailable(
                f"provider {info.provider!r} for model {model!r} is not configured on this gateway",
                reason="provider_not_configured",
            )
        trail.provider, trail.served_model = upstream.name, model
        return Route(model, info, upstream)

    async def forward(
        self, trail: Trail, route: Route, path: str, body: bytes, stream: bool
    ) -> UpstreamResponse:
        t = perf_counter()
        try:
            response = await route.upstream.send(path, body, stream=stream)
        except GatewayError as exc:
            self.metrics.count_upstream_error(route.upstream.name, exc.reason)
            raise
        finally:
            trail.upstream_seconds += perf_counter() - t
        trail.upstream_status = response.status
        self.metrics.observe_upstream(route.upstream.name, trail.upstream_seconds)
        if response.status >= 500:
            self.metrics.count_upstream_error(route.upstream.name, f"status_{response.status}")
        return response

    # -- 6. account -------------------------------------------------------------------------
    async def account(self, trail: Trail, route: Route, usage: Usage | None) -> None:
        if usage is None:
            return
        trail.usage = usage
        trail.cost_usd = (
            usage.tokens_in * route.info.input_per_1k + usage.tokens_out * route.info.output_per_1k
        ) / 1000.0
        principal = trail.principal
        if principal is not None:
            await self.usage.record(
                principal.tenant, principal.sub, trail.cost_usd, usage.tokens_in + usage.tokens_out
            )

    # -- 7. audit + metrics -----------------------------------------------------------------
    def close(self, trail: Trail) -> None:
        """Exactly once per request, on every path."""
        if trail.closed:
            return
        trail.closed = True
        self.audit.submit(trail.to_event(self.instance_id))
        self._observe(trail)

    def _observe(self, trail: Trail) -> None:
        principal, view = trail.principal, trail.view
        role = principal.roles[0] if principal and principal.roles else None
        model = trail.served_model or (view.model if view else None)
        if trail.error is None:
            outcome = "allow"
        elif isinstance(trail.error, Forbidden | Unauthenticated):
            outcome = "deny"
        else:
            outcome = "error"
        metrics = self.metrics
        metrics.observe_request(
            trail.route, outcome, trail.reason(), model, role, trail.elapsed(), trail.overhead()
        )
        metrics.observe_stages({stage: ms / 1000.0 for stage, ms in trail.stages.items()})
        if trail.usage is not None:
            metrics.observe_usage(model, role, trail.usage.tokens_in, trail.usage.tokens_out, trail.cost_usd)
        if trail.guard_entities:
            metrics.count_guard_entities(trail.guard_entities)

    def response_headers(self, trail: Trail) -> dict[str, str]:
        headers = {"x-skein-request-id": trail.request_id}
        if trail.decision_id:
            headers["x-skein-decision-id"] = trail.decision_id
        if trail.served_model:
            headers["x-skein-model"] = trail.served_model
        if self.settings.server.overhead_header:
            headers["x-skein-overhead-ms"] = f"{trail.overhead() * 1000.0:.3f}"
        return headers

    # -- shared state: rate limits, budgets, idempotency ----------------------------------
    # Called by the HTTP handlers; each does nothing without shared state (memory backend).

    async def admit(
        self, trail: Trail, bundle: ActiveBundle, principal: Principal, view: CallView, route: Route
    ) -> Reservation | None:
        """After ``route``, before ``forward``: rate limits, then reserve the budget.

        Raises ``RateLimited`` (429, ``rate_limited`` / ``budget_exceeded``, Retry-After) or,
        when Redis fails closed, ``Unavailable``. The reservation is the call's worst case:
        the input estimate plus ``max_tokens`` at the served model's prices.
        """
        state = self.state
        if state is None:
            return None
        t = perf_counter()
        max_tokens = view.max_tokens or state.default_max_tokens
        tokens = view.input_tokens_estimate + max_tokens
        await state.rate_limits.admit(principal, bundle.profiles, tokens)
        info = route.info
        usd = (view.input_tokens_estimate * info.input_per_1k + max_tokens * info.output_per_1k) / 1000.0
        reservation = await state.budgets.reserve(principal, bundle.profiles, usd, tokens)
        trail.mark("admit", t)
        return reservation

    async def settle_budget(self, trail: Trail, reservation: Reservation | None) -> None:
        """Once the call is over (after ``account``, in the same ``finally`` as ``close``).

        Settles to the real cost from ``trail.usage``; without usage (upstream failure,
        client gone) the reservation is refunded. Never raises.
        """
        if reservation is None or self.state is None:
            return
        usage = trail.usage
        tokens = usage.tokens_in + usage.tokens_out if usage else 0
        await self.state.budgets.settle(reservation, trail.cost_usd if usage else 0.0, tokens)

    async def idempotency_begin(
        self, principal: Principal, route_path: str, key: str | None, body: bytes
    ) -> Claim | StoredResponse | None:
        """Before any work on a POST with ``Idempotency-Key``, after ``authenticate``.

        A ``StoredResponse``: answer with it as is. A ``Claim``: run the call, then
        ``idempotency_finish``. None: no key (or Redis failed open), run normally. Raises
        409 ``idempotency_in_flight`` or 422 ``idempotency_key_reused``.
        """
        if key is None or self.state is None:
            return None
        idem = self.state.idempotency
        return await idem.begin(idem.key(principal.tenant, principal.sub, route_path, key), body)

    async def idempotency_finish(self, claim: Claim | None, response: StoredResponse | None) -> None:
        """Store the finished non-streaming response for replay, or (None: streamed, 5xx,
        exception) give the key up so a retry runs again. Never raises."""
        if claim is None or self.state is None:
            return
        if response is None or response.status >= 500:
            await self.state.idempotency.release(claim)
        else:
            await self.state.idempotency.complete(claim, response)
