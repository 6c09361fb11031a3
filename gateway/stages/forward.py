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
from gateway.state.usage import UsageStore
from gateway.upstream.base import UpstreamRequest

_HEADER_VALUE = re.compile(r"[\x21-\x7e][\x20-\x7e]{0,255}")


class Forward(Stage):
    name = "forward"

    def __init__(self, metrics: Metrics, usage: UsageStore) -> None:
        self._metrics = metrics
        self._usage = usage

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
            call.upstream = await route.upstream.send(request)
        except GatewayError as exc:
            self._metrics.count_upstream_error(route.upstream.name, exc.reason)
            if call.trace is not None:
                call.trace.end_upstream(call, exc)
            raise
        finally:
            call.trail.upstream_seconds += perf_counter() - started
        status = call.upstream.status
        call.trail.upstream_status = status
        if call.trace is not None and not call.upstream.is_stream:
            call.trace.upstream_answered()  # the span ends here, its usage is read later
        self._metrics.observe_upstream(route.upstream.name, call.trail.upstream_seconds, route.model)
        if status >= 400:  # its 429s too: the provider refused, the call failed
            self._metrics.count_upstream_error(route.upstream.name, f"status_{status}")

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
