"""Hostile upstreams (issue 9, findings 5 and 6): size caps, the deadline, the event cap, headers.

A real aiohttp server in the test's event loop plays the misbehaving provider; the gateway's
``HttpUpstream`` talks to it over loopback through a real pool.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st

from gateway.dialects import ollama, openai
from gateway.errors import GatewayError, UpstreamError, UpstreamTimeout
from gateway.settings import ProviderSettings
from gateway.upstream.base import UpstreamRequest
from gateway.upstream.http import NDJSON_SEPARATORS, EventBound, HttpUpstream, forwardable_headers, new_pool

CAP = 64 * 1024
EVENT_CAP = 4 * 1024


class Misbehaving:
    """The provider; ``closed`` counts responses the gateway hung up on before their end."""

    def __init__(self) -> None:
        self.closed = 0

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/v1/chat/completions", self.dispatch), web.post("/api/chat", self.dispatch)]

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        case = (await request.json())["case"]  # which misbehaviour, named in the request body
        handler: Any = getattr(self, case.replace("-", "_"))
        return await handler(request)

    async def exact(self, request: web.Request) -> web.Response:
        return web.Response(body=b"e" * CAP, content_type="application/json")

    async def declared_too_large(self, request: web.Request) -> web.StreamResponse:
        # Claims 200 MB; sends a little, then waits: only the declared length can refuse it.
        response = web.StreamResponse(headers={"content-length": str(200 * 1024 * 1024)})
        await response.prepare(request)
        await self._until_hung_up(response, b"x" * 1024, pause=0.05)
        return response

    async def endless(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        await self._until_hung_up(response, b"x" * 16384, pause=0)
        return response

    async def trickle(self, request: web.Request) -> web.StreamResponse:
        # Never silent for long (the read timeout does not fire), never finished.
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        await self._until_hung_up(response, b"x", pause=0.05)
        return response

    async def headers(self, request: web.Request) -> web.Response:
        headers = {
            "set-cookie": "session=provider",
            "alt-svc": 'h3=":443"',
            "strict-transport-security": "max-age=31536000",
            "connection": "keep-alive, x-hop",
            "x-hop": "named by Connection",
            "proxy-connection": "keep-alive",
            "x-request-id": "req-123",
            "openai-processing-ms": "12",
        }
        return web.Response(body=b"{}", content_type="application/json", headers=headers)

    async def events(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        stream = b"".join(b"data: " + b"e" * (EVENT_CAP - 20) + b"\r\n\r\n" for _ in range(20))
        for start in range(0, len(stream), 1000):  # separators land across chunk borders
            await response.write(stream[start : start + 1000])
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    async def huge_event(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b'data: {"ok": true}\n\n')
        await self._until_hung_up(response, b"y" * 1024, pause=0)  # one event that never ends
        return response

    async def lines(self, request: web.Request) -> web.StreamResponse:
        # Ollama's framing: one JSON document per line, no blank lines anywhere.
        response = web.StreamResponse(headers={"content-type": "application/x-ndjson"})
        await response.prepare(request)
        line = b'{"message": {"content": "' + b"w" * (EVENT_CAP - 40) + b'"}}\n'
        for _ in range(20):
            await response.write(line)
        await response.write_eof()
        return response

    async def huge_line(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "application/x-ndjson"})
        await response.prepare(request)
        await response.write(b'{"done": false}\n')
        await self._until_hung_up(response, b"z" * 1024, pause=0)
        return response

    async def _until_hung_up(self, response: web.StreamResponse, piece: bytes, pause: float) -> None:
        try:
            for _ in range(100_000):
                await response.write(piece)
                await asyncio.sleep(pause)
        except (ConnectionError, RuntimeError):
            self.closed += 1


@pytest.fixture
async def provider() -> AsyncIterator[tuple[Misbehaving, str]]:
    misbehaving = Misbehaving()
    app = web.Application()
    app.add_routes(misbehaving.routes())
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield misbehaving, f"http://127.0.0.1:{port}"
    await runner.cleanup()


@pytest.fixture
async def pool() -> AsyncIterator[aiohttp.ClientSession]:
    session = new_pool()
    yield session
    await session.close()


def upstream(
    base_url: str, pool: aiohttp.ClientSession, dialect: str = "openai", **limits: Any
) -> HttpUpstream:
    settings = ProviderSettings(
        base_url=base_url + ("/v1" if dialect == "openai" else ""),
        dialect=dialect,
        max_response_bytes=CAP,
        max_event_bytes=EVENT_CAP,
        **limits,
    )
    return HttpUpstream("hostile", settings, pool)


def ask(case: str, *, stream: bool = False, dialect: Any = openai.CHAT) -> UpstreamRequest:
    return UpstreamRequest(dialect, orjson.dumps({"case": case}), stream)


async def failure(awaitable: Any) -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        await asyncio.wait_for(awaitable, 30)  # a bound for a broken build, never reached otherwise
    return caught.value


async def wait_until_closed(misbehaving: Misbehaving) -> None:
    async with asyncio.timeout(30):
        while misbehaving.closed == 0:
            await asyncio.sleep(0.01)


async def test_an_answer_of_exactly_the_cap_passes(provider: tuple[Misbehaving, str], pool: Any) -> None:
    _, base = provider
    response = await upstream(base, pool).send(ask("exact", stream=False))
    assert response.status == 200 and response.body == b"e" * CAP


async def test_a_declared_length_over_the_cap_is_refused_before_reading(
    provider: tuple[Misbehaving, str], pool: Any
) -> None:
    misbehaving, base = provider
    error = await failure(upstream(base, pool).send(ask("declared-too-large", stream=False)))
    assert (type(error), error.status, error.reason) == (UpstreamError, 502, "upstream_response_too_large")
    await wait_until_closed(misbehaving)  # the connection was dropped, not drained


async def test_an_endless_chunked_answer_is_cut_at_the_cap(
    provider: tuple[Misbehaving, str], pool: Any
) -> None:
    misbehaving, base = provider
    error = await failure(upstream(base, pool).send(ask("endless", stream=False)))
    assert (error.status, error.reason) == (502, "upstream_response_too_large")
    assert str(CAP) in error.message
    await wait_until_closed(misbehaving)


async def test_a_trickling_answer_meets_the_total_deadline(
    provider: tuple[Misbehaving, str], pool: Any
) -> None:
    misbehaving, base = provider
    slow = upstream(base, pool, response_timeout_seconds=0.5, read_timeout_seconds=30)
    error = await failure(slow.send(ask("trickle", stream=False)))
    assert isinstance(error, UpstreamTimeout)
    assert (error.status, error.reason) == (504, "upstream_timeout")
    await wait_until_closed(misbehaving)


async def test_a_trickling_error_answer_to_a_stream_request_meets_the_deadline(
    provider: tuple[Misbehaving, str], pool: Any
) -> None:
    # Asked for a stream, answered with a body that is not one: read as a buffered answer.
    misbehaving, base = provider
    slow = upstream(base, pool, response_timeout_seconds=0.5, read_timeout_seconds=30)
    error = await failure(slow.send(ask("trickle", stream=True)))
    assert (error.status, error.reason) == (504, "upstream_timeout")
    await wait_until_closed(misbehaving)


async def test_connection_and_site_headers_are_not_passed_on(
    provider: tuple[Misbehaving, str], pool: Any
) -> None:
    _, base = provider
    response = await upstream(base, pool).send(ask("headers", stream=False))
    assert response.headers["x-request-id"] == "req-123"
    assert response.headers["openai-processing-ms"] == "12"
    for name in ("set-cookie", "alt-svc", "strict-transport-security", "connection", "x-hop"):
        assert name not in response.headers
    assert "proxy-connection" not in response.headers


async def test_events_up_to_the_cap_stream_through(provider: tuple[Misbehaving, str], pool: Any) -> None:
    _, base = provider
    response = await upstream(base, pool).send(ask("events", stream=True))
    assert response.chunks is not None
    received = b"".join([chunk async for chunk in response.chunks])
    assert received.count(b"\r\n\r\n") == 20 and received.endswith(b"data: [DONE]\n\n")


async def test_an_event_over_the_cap_ends_the_stream(provider: tuple[Misbehaving, str], pool: Any) -> None:
    misbehaving, base = provider
    response = await upstream(base, pool).send(ask("huge-event", stream=True))
    assert response.chunks is not None
    received: list[bytes] = []

    async def consume() -> None:
        async for chunk in response.chunks:  # type: ignore[union-attr]
            received.append(chunk)

    error = await failure(consume())
    assert (error.status, error.reason) == (502, "upstream_event_too_large")
    assert b"".join(received).startswith(b'data: {"ok": true}\n\n')
    assert sum(map(len, received)) <= EVENT_CAP + 64 * 1024  # at most one read past the cap
    await wait_until_closed(misbehaving)


async def test_ndjson_lines_up_to_the_cap_stream_through(
    provider: tuple[Misbehaving, str], pool: Any
) -> None:
    # No blank line in the whole stream: each line is an event, not the stream one big event.
    _, base = provider
    response = await upstream(base, pool, "ollama").send(ask("lines", stream=True, dialect=ollama.CHAT))
    assert response.chunks is not None
    received = b"".join([chunk async for chunk in response.chunks])
    assert received.count(b"\n") == 20


async def test_an_ndjson_line_over_the_cap_ends_the_stream(
    provider: tuple[Misbehaving, str], pool: Any
) -> None:
    misbehaving, base = provider
    response = await upstream(base, pool, "ollama").send(ask("huge-line", stream=True, dialect=ollama.CHAT))
    assert response.chunks is not None

    async def consume() -> None:
        async for _ in response.chunks:  # type: ignore[union-attr]
            pass

    error = await failure(consume())
    assert error.reason == "upstream_event_too_large"
    await wait_until_closed(misbehaving)


def test_fields_named_by_connection_are_hop_by_hop() -> None:
    headers = {"Connection": "close, X-Trace", "X-Trace": "1", "Content-Type": "application/json"}
    assert forwardable_headers(headers) == {"content-type": "application/json"}


def test_a_provider_cannot_speak_for_the_gateway_or_its_site() -> None:
    """``x-skein-*`` are the gateway's own answers (served model, overhead, approval id): a
    provider's copy would pass for ours wherever the gateway sets none. CORS headers would
    open the gateway's origin to other sites' scripts."""
    headers = {
        "X-Skein-Model": "gpt-4o",
        "x-skein-overhead-ms": "0.001",
        "x-skein-approval-id": "forged",
        "Access-Control-Allow-Origin": "*",
        "access-control-allow-credentials": "true",
        "x-request-id": "up-1",
    }
    assert forwardable_headers(headers) == {"x-request-id": "up-1"}


@given(
    sizes=st.lists(st.integers(min_value=0, max_value=40), min_size=1, max_size=30),
    separators=st.lists(st.sampled_from([b"\n\n", b"\r\n\r\n"]), min_size=30, max_size=30),
    cuts=st.lists(st.integers(min_value=1, max_value=50), min_size=1, max_size=60),
)
def test_event_bound_counts_exactly_the_bytes_since_the_last_blank_line(
    sizes: list[int], separators: list[bytes], cuts: list[int]
) -> None:
    stream = b"".join(b"d" * size + sep for size, sep in zip(sizes, separators, strict=False))
    stream += b"tail-without-end"
    bound = EventBound(limit=25)
    seen = b""
    position = 0
    for cut in cuts * 20:
        if position >= len(stream):
            break
        chunk = stream[position : position + cut]
        position += len(chunk)
        seen += chunk
        assert bound.accepts(chunk) == (pending_in(seen) <= 25)


@given(
    lines=st.lists(st.integers(min_value=0, max_value=40), min_size=1, max_size=30),
    cuts=st.lists(st.integers(min_value=1, max_value=50), min_size=1, max_size=60),
)
def test_event_bound_on_ndjson_counts_the_bytes_since_the_last_newline(
    lines: list[int], cuts: list[int]
) -> None:
    stream = b"".join(b"j" * size + b"\n" for size in lines) + b"unterminated"
    bound = EventBound(limit=25, separators=NDJSON_SEPARATORS)
    seen = b""
    position = 0
    for cut in cuts * 20:
        if position >= len(stream):
            break
        chunk = stream[position : position + cut]
        position += len(chunk)
        seen += chunk
        tail = len(seen) - (seen.rfind(b"\n") + 1)
        assert bound.accepts(chunk) == (tail <= 25)


def pending_in(seen: bytes) -> int:
    """The reference, on everything at once: the bytes after the last blank line."""
    ends = [seen.rfind(sep) + len(sep) for sep in (b"\n\n", b"\r\n\r\n") if sep in seen]
    return len(seen) - max(ends) if ends else len(seen)
