"""The proxied OpenAI routes: ``/v1/chat/completions`` and ``/v1/embeddings``.

Each handler drives the pipeline stages in order. The trail (audit + metrics) is closed
after the response has been sent, so its cost is not in the caller's latency: by the
``AfterSend`` wrapper for buffered answers and errors, by the stream itself for streams
(after the last byte, or when the client went away), and by the handler's ``finally`` if
the handler is interrupted before it could hand the response over.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from time import perf_counter
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from gateway.adapters import openai as dialect
from gateway.adapters import openai_text as text
from gateway.domain import CallView, Usage
from gateway.errors import BadRequest, GatewayError, PayloadTooLarge, UnsupportedMedia
from gateway.http.errors import error_response
from gateway.http.sse import SseRelay
from gateway.http.streaming import TrailStreamingResponse
from gateway.pipeline import ECHO, Gateway, Route
from gateway.state.budgets import Reservation
from gateway.state.idempotency import Claim, StoredResponse
from gateway.trail import Trail
from gateway.upstream.base import UpstreamResponse

log = logging.getLogger("skein.proxy")

ViewBuilder = Callable[[dict[str, Any], int], CallView]
SlotsBuilder = Callable[[dict[str, Any]], text.TextSlots]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One proxied OpenAI route: where it goes and how to read its body."""

    path: str
    upstream_path: str
    view: ViewBuilder
    slots: SlotsBuilder
    restores: bool  # whether answers carry text in which pseudonyms must be restored


CHAT = Endpoint("/v1/chat/completions", "/chat/completions", dialect.chat_view, text.chat_slots, True)
EMBEDDINGS = Endpoint("/v1/embeddings", "/embeddings", dialect.embeddings_view, text.embeddings_slots, False)


async def chat_completions(request: Request) -> Response:
    return await _proxy(request, CHAT)


async def embeddings(request: Request) -> Response:
    return await _proxy(request, EMBEDDINGS)


async def _proxy(request: Request, endpoint: Endpoint) -> Response:
    gw: Gateway = request.state.gateway
    trail = Trail(route=endpoint.path, action="chat" if endpoint.restores else "embeddings")
    response: Response | None = None
    reservation: Reservation | None = None
    claim: Claim | None = None
    try:
        headers = request.headers
        principal = await gw.authenticate(trail, headers.get("authorization"), headers.get("x-api-key"))
        raw = await read_json_body(request, gw.settings.server.max_body_bytes)
        replay = await gw.idempotency_begin(principal, endpoint.path, headers.get("idempotency-key"), raw)
        if isinstance(replay, StoredResponse):  # a retry of a finished call: the same answer
            trail.status = replay.status
            trail.notes.append("idempotent_replay")
            stored = Response(replay.body, status_code=replay.status, headers=replay.headers)
            return AfterSend(stored, lambda: gw.close(trail))
        claim = replay
        body = dialect.parse_json(raw)
        view = endpoint.view(body, len(raw))
        bundle, decision = await gw.decide(trail, principal, view)
        route = gw.route(trail, bundle, view, decision)
        reservation = await gw.admit(trail, bundle, principal, view, route)
        guarded = await gw.mask(trail, bundle, principal, decision, endpoint.slots(body))
        payload, injected = dialect.upstream_body(
            body,
            raw,
            model=route.upstream_model,
            want_stream_usage=view.stream,
            changed=guarded is not None and bool(guarded.counts),
        )
        upstream = await gw.forward(trail, route, endpoint.upstream_path, payload, view.stream)
        # The echo provider exists to show what leaves the building: its answer keeps the
        # pseudonyms. Real providers' answers get the caller's values back.
        restores = endpoint.restores and route.upstream.name != ECHO
        mapping = guarded.mapping if guarded is not None and restores else {}
        if upstream.is_stream:  # the stream closes the trail itself
            stream = _stream_response(
                gw,
                trail,
                route,
                upstream,
                strip_usage=injected,
                mapping=mapping,
                reservation=reservation,
                claim=claim,
            )
            reservation = claim = None  # the stream settles and releases them when it ends
            return stream
        response = await _buffered_response(gw, trail, route, upstream, mapping)
        await gw.idempotency_finish(
            claim, StoredResponse(response.status_code, dict(response.headers), bytes(response.body))
        )
        claim = None
    except GatewayError as exc:
        trail.fail(exc)
        response = error_response(exc, gw.response_headers(trail))
    except Exception:
        log.exception("unexpected error", extra={"request_id": trail.request_id})
        error = GatewayError("internal error; see the gateway log")
        trail.fail(error)
        response = error_response(error, gw.response_headers(trail))
    except BaseException:
        gw.close(trail)  # interrupted (cancelled) before a response existed
        raise
    await gw.settle_budget(trail, reservation)  # the real cost, or a refund on failure
    await gw.idempotency_finish(claim, None)  # still claimed: the call failed, a retry runs again
    return AfterSend(response, lambda: gw.close(trail))


class AfterSend(Response):
    """Sends ``inner``, then runs ``done`` (also when sending fails)."""

    def __init__(self, inner: Response, done: Callable[[], None]) -> None:
        self._inner = inner
        self._done = done
        self.status_code = inner.status_code
        self.raw_headers = inner.raw_headers
        self.background = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self._inner(scope, receive, send)
        finally:
            self._done()


async def read_json_body(request: Request, limit: int) -> bytes:
    content_type = request.headers.get("content-type", "application/json")
    if not content_type.startswith("application/json") and "+json" not in content_type:
        raise UnsupportedMedia(f"expected Content-Type application/json, got {content_type!r}")
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise BadRequest("invalid Content-Length", reason="invalid_request")
        if int(declared) > limit:
            raise PayloadTooLarge(f"request body of {declared} bytes exceeds the limit of {limit} bytes")
        return await request.body()
    parts: list[bytes] = []
    size = 0
    async for part in request.stream():  # chunked upload: count as we go, stop at the limit
        size += len(part)
        if size > limit:
            raise PayloadTooLarge(f"request body exceeds the limit of {limit} bytes")
        parts.append(part)
    return b"".join(parts)


async def _buffered_response(
    gw: Gateway, trail: Trail, route: Route, upstream: UpstreamResponse, mapping: Mapping[str, str]
) -> Response:
    body = upstream.body or b""
    if upstream.status == 200:
        await gw.account(trail, route, dialect.usage_from_body(body))
        if mapping:
            t = perf_counter()
            body = text.restore_completion(body, mapping)
            trail.mark("unmask", t)
    trail.status = upstream.status
    return Response(
        body,
        status_code=upstream.status,
        headers={**upstream.headers, **gw.response_headers(trail)},
        media_type=upstream.content_type,
    )


def _stream_response(
    gw: Gateway,
    trail: Trail,
    route: Route,
    upstream: UpstreamResponse,
    *,
    strip_usage: bool,
    mapping: Mapping[str, str],
    reservation: Reservation | None = None,
    claim: Claim | None = None,
) -> Response:
    usage_seen: list[Usage] = []
    restoration = text.StreamRestoration(mapping) if mapping else None

    def on_data(payload: bytes) -> bytes | None:
        usage = dialect.usage_from_event(payload) if b'"usage"' in payload else None
        if usage is not None:
            usage_seen.append(usage)
            # The caller did not ask for the usage chunk: we added the request, so we remove it.
            if strip_usage and dialect.is_usage_only_event(payload):
                return None
        return restoration.event(payload) if restoration is not None else payload

    # Without pseudonyms to restore, only blocks that carry usage need per-event work.
    relay = SseRelay(
        on_data,
        marker=None if restoration else b'"usage"',
        before_done=restoration.leftover if restoration else None,
    )
    assert upstream.chunks is not None

    async def body() -> AsyncIterator[bytes]:
        async for chunk in upstream.chunks:  # type: ignore[union-attr]
            out = relay.feed(chunk)
            if out:
                yield out
        tail = relay.flush()
        if tail:
            yield tail

    async def on_close(error: GatewayError | None) -> None:
        if error is not None:
            trail.fail(error)
        upstream.release()
        await gw.account(trail, route, usage_seen[-1] if usage_seen else None)
        await gw.settle_budget(trail, reservation)
        await gw.idempotency_finish(claim, None)  # streams are not stored for replay
        gw.close(trail)

    trail.status = upstream.status
    return TrailStreamingResponse(
        body(),
        on_close=on_close,
        status_code=upstream.status,
        headers={**upstream.headers, **gw.response_headers(trail)},
        media_type=upstream.content_type,
    )
