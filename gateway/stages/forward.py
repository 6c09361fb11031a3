"""Send the canonical body to the provider. On the way out, account the real usage.

Last on the way in: nothing leaves the building before every check passed and the guard
masked it. The bytes sent are the dialect's re-serialisation of the body that policy and the
guard saw, never the caller's own bytes.

One attempt, through the deployment's circuit breaker when breakers are on. Only an attempt
that failed in a retryable way before the answer's head (``gateway.upstream.retry``) goes to
``Recovery`` (retries, other deployments, fallback models: ``gateway/stages/recovery.py``); the
happy path costs one counter and, with breakers, one state check.
"""

from __future__ import annotations

import re
from time import perf_counter

from gateway.call import Call
from gateway.errors import GatewayError
from gateway.metrics import Metrics
from gateway.stages.base import Stage
from gateway.stages.recovery import Recovery, circuit_open, observe_attempt, retryable
from gateway.state.usage import UsageStore
from gateway.upstream.base import UpstreamRequest, UpstreamResponse
from gateway.upstream.breaker import Breaker, Breakers
from gateway.upstream.retry import RETRYABLE_STATUSES

_HEADER_VALUE = re.compile(r"[\x21-\x7e][\x20-\x7e]{0,255}")


class Forward(Stage):
    name = "forward"

    def __init__(
        self,
        metrics: Metrics,
        usage: UsageStore,
        recovery: Recovery | None = None,
        breakers: Breakers | None = None,
    ) -> None:
        self._metrics = metrics
        self._usage = usage
        # Retries and fallbacks (docs/routing.md); None or disabled: a failure is the answer.
        self._recovery = recovery if recovery is not None and recovery.enabled else None
        self._breakers = breakers or Breakers((), 0, 0)

    async def enter(self, call: Call) -> None:
        route, view, dialect = call.route, call.view, call.dialect
        assert route is not None
        body, call.asked_stream_usage = dialect.outgoing(
            call.body, model=route.upstream_model, stream_usage=view.stream
        )
        headers = {
            name: value
            for name in dialect.passes_headers
            if (value := call.headers.get(name)) is not None and _HEADER_VALUE.fullmatch(value)
        }
        if call.trace is not None:  # the upstream call's span, continued by the provider
            call.trace.start_upstream(call, headers)
        request = UpstreamRequest(dialect, body, view.stream, headers)
        started = perf_counter()
        try:
            upstream = await self._send(call, request, started)
        except GatewayError as exc:
            if call.trace is not None:
                call.trace.end_upstream(call, exc)
            raise
        call.upstream = upstream
        call.trail.upstream_seconds += perf_counter() - started
        call.trail.upstream_status = upstream.status
        if call.trace is not None and not upstream.is_stream:
            call.trace.upstream_answered()  # the span ends here, its usage is read later
        self._metrics.observe_upstream(
            call.trail.provider or route.upstream.name, call.trail.upstream_seconds, route.model
        )

    async def _send(self, call: Call, request: UpstreamRequest, started: float) -> UpstreamResponse:
        """The first attempt, through the deployment's breaker; a retryable failure goes to recovery."""
        route = call.route
        assert route is not None
        breaker = self._breakers.get(route.upstream.name)  # None: breakers are off
        if breaker is not None and not breaker.allows():
            return await self._recover(call, request, circuit_open(route, breaker), started)
        try:
            upstream = await route.upstream.send(request)
        except GatewayError as exc:
            if breaker is not None and retryable(exc):
                breaker.failed()
            if self._recovery is None or not retryable(exc):
                call.trail.upstream_seconds += perf_counter() - started
                observe_attempt(self._metrics, route, exc)
                raise
            return await self._recover(call, request, exc, started)
        if upstream.status < 400:  # the happy path: a counter, and the breaker if any
            self._metrics.count_attempt(route.model, "ok")
            if breaker is not None:
                breaker.succeeded()
            return upstream
        return await self._failed(call, request, upstream, started, breaker)

    async def _failed(
        self,
        call: Call,
        request: UpstreamRequest,
        answer: UpstreamResponse,
        started: float,
        breaker: Breaker | None,
    ) -> UpstreamResponse:
        """An error answer: retried when it may be, else it is the answer."""
        assert call.route is not None
        if answer.status not in RETRYABLE_STATUSES:
            if breaker is not None:
                breaker.succeeded()  # the provider answered: it is up, the request was refused
            observe_attempt(self._metrics, call.route, answer)
            return answer
        if breaker is not None:
            breaker.failed()
        if self._recovery is None:
            observe_attempt(self._metrics, call.route, answer)
            return answer
        return await self._recover(call, request, answer, started)

    async def _recover(
        self, call: Call, request: UpstreamRequest, failure: UpstreamResponse | GatewayError, started: float
    ) -> UpstreamResponse:
        """The failure path: retries and fallbacks; the time spent waiting counts as upstream time."""
        if self._recovery is None:  # only an open breaker gets here without recovery
            assert isinstance(failure, GatewayError) and call.route is not None
            observe_attempt(self._metrics, call.route, failure)
            call.trail.upstream_seconds += perf_counter() - started
            raise failure
        try:
            return await self._recovery.recover(call, request, failure, started, perf_counter() - started)
        except GatewayError:
            call.trail.upstream_seconds += perf_counter() - started
            raise

    async def leave(self, call: Call) -> None:
        """Cost of the call from the provider's usage (or an estimate when it reported none)."""
        if call.trace is not None:  # the answer is complete (a stream's last byte went out)
            call.trace.end_upstream(call)
        trail, route = call.trail, call.route
        if route is None or trail.usage is None:
            return
        usage = trail.usage
        trail.cost_usd = (
            route.info.input_per_1k * usage.tokens_in / 1000
            + route.info.output_per_1k * usage.tokens_out / 1000
        )
        principal = call.principal
        await self._usage.record(
            principal.tenant, principal.sub, trail.cost_usd, usage.tokens_in + usage.tokens_out
        )
