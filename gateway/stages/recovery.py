"""What the forward stage does when an upstream attempt fails before the answer's head.

Only the failure path lives here: the forward stage calls ``Recovery.recover`` after a first
attempt failed in a retryable way (``gateway.upstream.retry``), so a call that succeeds at
once pays nothing for any of this.

The order: retries on the same model (after a backoff, or the provider's ``Retry-After`` when
it is short enough), then the model's fallbacks (``routing.fallbacks``) in order, each with the
same retries. All of it within ``routing.deadline_seconds`` of the first attempt: no attempt or
wait starts past it. A fallback is decided by policy again, with the caller's own input and
the alternative model, and checked against the profiles like any decision
(``guardrails.model_decision_problem``): a model or a provider the caller may not use (a
``local_only`` role and a remote provider) is skipped, never tried. A fallback that would
need an approval, a guard other than the one the body was masked for, or a provider this
gateway does not have or that does not speak the caller's API is skipped too.

Nothing is retried once the answer's head arrived: a stream that fails midway is the
caller's to retry (the first bytes may already be on their screen).

Every attempt goes into the audit record of the call (``resource.attempts``: model,
provider, outcome, status, milliseconds) and into ``skein_upstream_attempts_total``; skipped
fallbacks into ``resource.fallbacks_skipped`` with the policy's reason.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import replace
from time import perf_counter
from typing import Any

from gateway.call import Call, Route
from gateway.errors import GatewayError, Unavailable
from gateway.metrics import Metrics
from gateway.settings import RoutingSettings
from gateway.stages.guardrails import model_decision_problem
from gateway.upstream.balance import Balancer
from gateway.upstream.base import Upstream, UpstreamRequest, UpstreamResponse
from gateway.upstream.breaker import Breaker, Breakers
from gateway.upstream.retry import (
    CIRCUIT_OPEN,
    RETRYABLE_REASONS,
    RETRYABLE_STATUSES,
    backoff_seconds,
    retry_after_seconds,
)

Failure = UpstreamResponse | GatewayError
Sleep = Callable[[float], Awaitable[None]]


def outcome_of(result: Failure) -> str:
    """The attempt's outcome label: ``ok``, ``status_<code>`` or the error's reason."""
    if isinstance(result, GatewayError):
        return result.reason
    return "ok" if result.status < 400 else f"status_{result.status}"


def observe_attempt(metrics: Metrics, route: Route, result: Failure) -> None:
    """An attempt in ``skein_upstream_attempts_total``; a failure in ``skein_upstream_errors_total``."""
    outcome = outcome_of(result)
    metrics.count_attempt(route.model, outcome)
    if isinstance(result, GatewayError) or result.status >= 400:  # 429s too: the provider refused
        metrics.count_upstream_error(route.upstream.name, outcome)


def retryable(result: Failure) -> bool:
    if isinstance(result, GatewayError):
        return result.reason in RETRYABLE_REASONS
    return result.status in RETRYABLE_STATUSES


def circuit_open(route: Route, breaker: Breaker) -> GatewayError:
    """The answer for a call whose deployment's breaker is open (nothing was sent)."""
    wait = max(1, math.ceil(breaker.retry_after()))
    return Unavailable(
        f"provider {route.upstream.name!r} is failing: its circuit breaker is open for {wait} s",
        reason=CIRCUIT_OPEN,
        headers={"retry-after": str(wait)},
    )


class Recovery:
    def __init__(
        self,
        settings: RoutingSettings,
        upstreams: Mapping[str, Upstream],
        metrics: Metrics,
        *,
        breakers: Breakers | None = None,
        balancer: Balancer | None = None,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self._settings = settings
        self._upstreams = upstreams
        self._metrics = metrics
        self._breakers = breakers or Breakers((), 0, 0)
        self._balancer = balancer
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.enabled = settings.retries > 0 or bool(settings.fallbacks) or bool(settings.deployments)

    async def recover(
        self, call: Call, request: UpstreamRequest, failure: Failure, started: float, seconds: float
    ) -> UpstreamResponse:
        """The answer of the first attempt that does not fail in a retryable way, or the last
        failure (a failed answer is returned as it came, an error raised)."""
        route = call.route
        assert route is not None
        last = route
        attempts = [_attempt(route, failure, seconds)]
        observe_attempt(self._metrics, route, failure)
        call.trail.resource["attempts"] = attempts
        deadline = started + self._settings.deadline_seconds
        routes = self._routes(call, route)
        retry = 0
        while True:
            wait = self._wait(failure, retry)
            if wait is not None and perf_counter() + wait < deadline:
                await self._sleep(wait)
                retry += 1
            else:
                following = await anext(routes, None)
                if following is None:
                    break
                if following.model != route.model:
                    request = self._request(call, following, request)
                route, retry = following, 0
            if perf_counter() >= deadline:
                break
            began = perf_counter()
            failure = await self.send(route, request)
            last = route
            attempts.append(_attempt(route, failure, perf_counter() - began))
            observe_attempt(self._metrics, route, failure)
            if not retryable(failure):
                break
        self._served(call, last)
        if isinstance(failure, GatewayError):
            raise failure
        return failure

    async def send(self, route: Route, request: UpstreamRequest) -> Failure:
        """One attempt, through the deployment's breaker (which hears how it went)."""
        breaker = self._breakers.get(route.upstream.name)
        if breaker is not None and not breaker.allows():
            return circuit_open(route, breaker)
        result: Failure
        try:
            result = await route.upstream.send(request)
        except GatewayError as exc:
            result = exc
        if breaker is not None:
            if retryable(result):
                breaker.failed()
            else:
                breaker.succeeded()
        return result

    def _wait(self, failure: Failure, retry: int) -> float | None:
        """How long to wait before retrying the same deployment, or None to move on."""
        settings = self._settings
        if retry >= settings.retries:
            return None
        if isinstance(failure, GatewayError):
            if failure.reason == CIRCUIT_OPEN:
                return None  # it will not be closed in a backoff's time
        else:
            asked = retry_after_seconds(failure.headers)
            if asked is not None:
                return asked if asked <= settings.max_retry_after_seconds else None
        return backoff_seconds(retry, settings.backoff_seconds, settings.max_backoff_seconds, self._rng)

    async def _routes(self, call: Call, primary: Route) -> AsyncIterator[Route]:
        """Where to go next, in order: the model's other deployments, then each fallback model
        that policy allows (with its deployments). Lazily: policy is asked for a fallback only
        once everything before it failed."""
        for upstream in primary.alternatives:
            yield Route(primary.model, primary.info, upstream)
        tried = {primary.model}
        for model in self._settings.fallbacks.get(primary.model, ()):
            if model in tried:
                continue
            tried.add(model)
            route, why = await self._fallback_route(call, model)
            if route is None or route.model in tried - {model}:
                skipped = call.trail.resource.setdefault("fallbacks_skipped", [])
                skipped.append({"model": model, "reason": why or "already_tried"})
                continue
            tried.add(route.model)
            yield route
            for upstream in route.alternatives:
                yield Route(route.model, route.info, upstream)

    async def _fallback_route(self, call: Call, model: str) -> tuple[Route | None, str | None]:
        """The route policy allows for ``model`` as the caller's model, or why there is none."""
        bundle, original = call.bundle, call.policy_input
        assert bundle is not None and original is not None
        info = bundle.catalog.models.get(model)
        if info is None:
            return None, "unknown_model"
        asked = {**original, "resource": {"model": model, "provider": info.provider}}
        decision = await bundle.engine.decide(asked)
        if not decision.allow:
            return None, decision.first_reason
        served = decision.model or model  # policy may serve another model (a downshift)
        served_info = bundle.catalog.models.get(served)
        # Checked as serving ``served``: a decision that names no model would otherwise be
        # checked against the view's model, the first one, which the caller may well use.
        checked = replace(decision, model=served)
        if served_info is None or model_decision_problem(checked, call.view, bundle, call.principal.roles):
            return None, "decision_invalid"
        if decision.approval_required:
            return None, "approval_required"
        if decision.guard != call.decision.guard:  # the body was masked for the first decision
            return None, "guard_differs"
        family = call.dialect.family
        placed: tuple[Upstream, ...] = ()
        if self._balancer is not None and served in self._balancer:
            placed = tuple(u for u in self._balancer.order(served, served_info.provider) if u.speaks(family))
        if not placed:
            upstream = self._upstreams.get(served_info.provider)
            if upstream is None:
                return None, "provider_not_configured"
            if not upstream.speaks(family):
                return None, "dialect_mismatch"
            placed = (upstream,)
        return Route(served, served_info, placed[0], placed[1:]), None

    def _request(self, call: Call, route: Route, previous: UpstreamRequest) -> UpstreamRequest:
        """The same masked body, addressed to another model (its provider's own name for it)."""
        body, call.asked_stream_usage = call.dialect.outgoing(
            call.body, model=route.upstream_model, stream_usage=call.view.stream
        )
        return UpstreamRequest(previous.dialect, body, previous.stream, previous.headers)

    def _served(self, call: Call, route: Route) -> None:
        if call.route is not None and route.model != call.route.model:
            call.trail.notes.append("model_fallback")
        call.route = route
        call.trail.provider, call.trail.served_model = route.upstream.name, route.model


def _attempt(route: Route, result: Failure, seconds: float) -> dict[str, Any]:
    status = result.status if isinstance(result, UpstreamResponse) else None
    return {
        "model": route.model,
        "provider": route.upstream.name,
        "outcome": outcome_of(result),
        "status": status,
        "ms": round(seconds * 1000.0, 1),
    }
