"""How a model call is answered: the provider's answer (restored), a stream relayed as it
arrives, an idempotent replay, or an error, each in the caller's dialect.

Every answer carries ``x-skein-request-id`` (this request), ``x-skein-decision-id``,
``x-skein-model`` (the model served) and ``x-skein-overhead-ms`` (the time the gateway
itself added). A replay has its own request id and names the original in
``x-skein-idempotent-replay``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from time import perf_counter

from starlette.responses import Response

from gateway.call import Answer, Call
from gateway.dialects.framing import EventRelay
from gateway.domain import Usage
from gateway.errors import ClientDisconnected, GatewayError
from gateway.http.streaming import TrailStreamingResponse
from gateway.upstream.base import UpstreamResponse
from gateway.upstream.echo import ECHO

Finish = Callable[[Call], Awaitable[None]]
_JSON = "application/json"
_BYTES_PER_TOKEN = 4


class ModelAnswers:
    def __init__(self, *, overhead_header: bool) -> None:
        self._overhead_header = overhead_header

    def headers(self, call: Call) -> dict[str, str]:
        trail = call.trail
        headers = {"x-skein-request-id": trail.request_id}
        if trail.decision_id:
            headers["x-skein-decision-id"] = trail.decision_id
        if trail.served_model:
            headers["x-skein-model"] = trail.served_model
        if self._overhead_header:
            headers["x-skein-overhead-ms"] = f"{trail.overhead() * 1000.0:.3f}"
        return headers

    async def respond(self, call: Call, finish: Finish) -> Response:
        if call.replay is not None:
            return self._replay(call)
        upstream = call.upstream
        assert upstream is not None, "forward ran: the pipeline answers only after it"
        if upstream.is_stream:
            return self._stream(call, upstream, finish)
        return self._buffered(call, upstream)

    def error(self, call: Call, error: GatewayError) -> Response:
        headers = {**self.headers(call), **error.headers}
        return Response(call.dialect.error_body(error), error.status, headers, media_type=_JSON)

    def _restoring(self, call: Call) -> Mapping[str, str]:
        # The echo provider exists to show what leaves the building: its answer keeps the
        # pseudonyms. Real providers' answers get the caller's values back.
        route = call.route
        return call.mapping if route is not None and route.upstream.name != ECHO else {}

    def _buffered(self, call: Call, upstream: UpstreamResponse) -> Response:
        trail, body = call.trail, upstream.body or b""
        if upstream.status == 200:
            started = perf_counter()
            mapping = self._restoring(call)
            body, usage = call.dialect.answer(body, mapping)
            if mapping:
                trail.mark("unmask", started)
            trail.usage = usage or _estimate(call, len(body))
        trail.status = upstream.status
        headers = {**upstream.headers, **self.headers(call)}
        call.answer = Answer(upstream.status, headers, body)
        return Response(body, upstream.status, headers, media_type=upstream.content_type)

    def _stream(self, call: Call, upstream: UpstreamResponse, finish: Finish) -> Response:
        assert upstream.chunks is not None
        chunks = upstream.chunks
        codec = call.dialect.stream(self._restoring(call), strip_usage=call.asked_stream_usage)
        relay = EventRelay(codec.framing, codec.handle, marker=codec.marker, finish=codec.finish)
        sent = [0]

        async def body() -> AsyncIterator[bytes]:
            async for chunk in chunks:
                out = relay.feed(chunk)
                if out:
                    if not sent[0]:  # time to first token, as the caller sees it
                        call.trail.first_byte_seconds = call.trail.elapsed()
                    sent[0] += len(out)
                    yield out
            tail = relay.flush()
            if tail:
                yield tail

        async def on_close(error: GatewayError | None) -> None:
            if error is not None:
                call.fail(error)
            upstream.release()
            call.trail.usage = codec.usage or (_estimate(call, sent[0]) if _charged(error, sent[0]) else None)
            await finish(call)

        call.streaming = True
        call.trail.status = upstream.status
        return TrailStreamingResponse(
            body(),
            on_close=on_close,
            error_event=codec.error,
            status_code=upstream.status,
            headers={**upstream.headers, **self.headers(call)},
            media_type=upstream.content_type,
        )

    def _replay(self, call: Call) -> Response:
        stored = call.replay
        assert stored is not None
        call.trail.status = stored.status
        call.trail.notes.append("idempotent_replay")
        headers = {
            **stored.headers,
            "x-skein-request-id": call.trail.request_id,
            "x-skein-idempotent-replay": stored.request_id
            or stored.headers.get("x-skein-request-id", "unknown"),
        }
        return Response(stored.body, stored.status, headers)


def _charged(error: GatewayError | None, sent_bytes: int) -> bool:
    """Whether a stream without the provider's usage is charged by estimate: a complete one,
    and one the caller hung up on after receiving some of it (refunding that one whole made
    "read all but the last event, then disconnect" a free call). A stream the upstream broke
    is refunded: the caller did not get the answer through no doing of theirs."""
    return error is None or (isinstance(error, ClientDisconnected) and sent_bytes > 0)


def _estimate(call: Call, answer_bytes: int) -> Usage:
    """A provider that reported no usage is charged by estimate, never for free."""
    call.trail.notes.append("usage_estimated")
    return Usage(call.view.input_tokens_estimate, answer_bytes // _BYTES_PER_TOKEN)
