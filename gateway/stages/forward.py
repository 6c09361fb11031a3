"""Send the canonical body to the provider. On the way out, account the real usage.

Last on the way in: nothing leaves the building before every check passed and the guard
masked it. The bytes sent are the dialect's re-serialisation of the body that policy and the
guard saw, never the caller's own bytes.
"""

from __future__ import annotations

import re
from time import perf_counter

from gateway.call import Call
from gateway.errors import GatewayError
from gateway.metrics import Metrics
from gateway.stages.base import Stage
from gateway.stages.recovery import Recovery, observe_attempt, retryable
from gateway.state.usage import UsageStore
from gateway.upstream.base import UpstreamRequest, UpstreamResponse
from gateway.upstream.retry import RETRYABLE_STATUSES

_HEADER_VALUE = re.compile(r"[\x21-\x7e][\x20-\x7e]{0,255}")


class Forward(Stage):
    name = "forward"

    def __init__(self, metrics: Metrics, usage: UsageStore, recovery: Recovery | None = None) -> None:
        self._metrics = metrics
        self._usage = usage
        # Retries and fallbacks (docs/routing.md); None or disabled: a failure is the answer.
        self._recovery = recovery if recovery is not None and recovery.enabled else None

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
        request = UpstreamRequest(dialect, body, view.stream, headers)
        started = perf_counter()
        try:
            upstream = await route.upstream.send(request)
        except GatewayError as exc:
            if self._recovery is None or not retryable(exc):
                call.trail.upstream_seconds += perf_counter() - started
                observe_attempt(self._metrics, route, exc)
                raise
            upstream = await self._recover(call, request, exc, started)
        else:
            if upstream.status < 400:  # the happy path: one counter, nothing else
                self._metrics.count_attempt(route.model, "ok")
            elif self._recovery is not None and upstream.status in RETRYABLE_STATUSES:
                upstream = await self._recover(call, request, upstream, started)
            else:
                observe_attempt(self._metrics, route, upstream)
        call.upstream = upstream
        call.trail.upstream_seconds += perf_counter() - started
        call.trail.upstream_status = upstream.status
        self._metrics.observe_upstream(
            call.trail.provider or route.upstream.name, call.trail.upstream_seconds
        )

    async def _recover(
        self, call: Call, request: UpstreamRequest, failure: UpstreamResponse | GatewayError, started: float
    ) -> UpstreamResponse:
        """The failure path: retries and fallbacks; the time spent waiting counts as upstream time."""
        assert self._recovery is not None
        try:
            return await self._recovery.recover(call, request, failure, started, perf_counter() - started)
        except GatewayError:
            call.trail.upstream_seconds += perf_counter() - started
            raise

    async def leave(self, call: Call) -> None:
        """Cost of the call from the provider's usage (or an estimate when it reported none)."""
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
