"""The client for one upstream MCP server (Streamable HTTP), on the shared aiohttp pool.

Every POST carries exactly one JSON-RPC message (batches are split by the gateway, each
element decided on its own), the upstream session's id and protocol version, the routing
headers of the 2026-07-28 transport (``Mcp-Method``, ``Mcp-Name``) computed from the body
actually sent, and Skein's own credential for the server. Nothing of the caller's request
headers goes upstream except trace context: not its token (unless the server acts for the
caller inside Skein's trust boundary: ``forward_credentials``), not its ``Mcp-Param-*``
headers (they would carry argument values past the guard).

An answer is JSON or an SSE stream. :meth:`McpUpstream.post` returns it as it comes (the
stream unread, for relaying); :func:`read_response` reads it to the one response message.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from gateway.dialects.framing import SSE, EventRelay, SseEvent
from gateway.errors import NotFound, UpstreamError, UpstreamTimeout
from gateway.mcp import names
from gateway.mcp.methods import NAME_HEADER_FIELDS
from gateway.mcp.session import UpstreamSession
from gateway.settings import McpServerSettings

SESSION_HEADER = "mcp-session-id"
VERSION_HEADER = "mcp-protocol-version"
PASSED_HEADERS = ("traceparent", "tracestate", "last-event-id")
CALLER_CREDENTIALS = ("authorization", "x-api-key")  # only to servers that act for the caller
_NETWORK_ERRORS = (aiohttp.ClientError, asyncio.TimeoutError, OSError)
_MAX_ANSWER_BYTES = 16 * 1024 * 1024


@dataclass(slots=True)
class Exchange:
    """An upstream's answer to one POST or GET. ``chunks`` is set for an unread SSE stream."""

    status: int
    content_type: str
    session_id: str | None
    in_session: bool = False  # the request named an upstream session
    body: bytes = b""
    chunks: AsyncIterator[bytes] | None = None
    release: Callable[[], None] = lambda: None

    @property
    def is_stream(self) -> bool:
        return self.chunks is not None


class McpUpstream:
    def __init__(self, name: str, settings: McpServerSettings, pool: aiohttp.ClientSession) -> None:
        self.name = name
        self.url = settings.url
        self._pool = pool
        secret = os.environ.get(settings.auth_env) if settings.auth_env else None
        self._auth = {settings.auth_header.lower(): secret} if secret else {}
        self._forwarded = CALLER_CREDENTIALS if settings.forward_credentials else ()
        self._timeout = aiohttp.ClientTimeout(
            connect=settings.connect_timeout_seconds, sock_read=settings.read_timeout_seconds
        )

    async def post(
        self, message: dict[str, Any], session: UpstreamSession | None, passed: Mapping[str, str]
    ) -> Exchange:
        headers = self._headers(session, passed)
        headers["content-type"] = "application/json"
        method = message.get("method")
        if isinstance(method, str):
            headers["mcp-method"] = method
            field = NAME_HEADER_FIELDS.get(method)
            value = message.get("params", {}).get(field) if field else None
            if isinstance(value, str):
                headers["mcp-name"] = names.header_value(value)
        return await self._send("POST", headers, orjson.dumps(message))

    async def get(self, session: UpstreamSession, passed: Mapping[str, str]) -> Exchange:
        """The session's stream of server-initiated messages."""
        headers = self._headers(session, passed)
        headers["accept"] = "text/event-stream"
        return await self._send("GET", headers, None)

    async def delete(self, session: UpstreamSession) -> int:
        exchange = await self._send("DELETE", self._headers(session, {}), None)
        exchange.release()
        return exchange.status

    def _headers(self, session: UpstreamSession | None, passed: Mapping[str, str]) -> dict[str, str]:
        headers = {"accept": "application/json, text/event-stream", "accept-encoding": "identity"}
        for name in (*PASSED_HEADERS, *self._forwarded):
            if (value := passed.get(name)) is not None:
                headers[name] = value
        if session is not None and session.session_id:
            headers[SESSION_HEADER] = session.session_id
        if session is not None and session.protocol_version:
            headers[VERSION_HEADER] = session.protocol_version
        headers.update(self._auth)
        return headers

    async def _send(self, verb: str, headers: dict[str, str], body: bytes | None) -> Exchange:
        try:
            resp = await self._pool.request(verb, self.url, data=body, headers=headers, timeout=self._timeout)
        except _NETWORK_ERRORS as exc:
            raise self._failure(exc) from exc
        content_type = resp.headers.get("content-type", "").lower()
        session_id = resp.headers.get(SESSION_HEADER)
        in_session = SESSION_HEADER in headers
        if resp.status == 200 and content_type.startswith("text/event-stream"):
            return Exchange(
                resp.status,
                content_type,
                session_id,
                in_session,
                chunks=self._iter(resp),
                release=resp.release,
            )
        try:
            data = await resp.content.read(_MAX_ANSWER_BYTES + 1)
        except _NETWORK_ERRORS as exc:
            raise self._failure(exc) from exc
        finally:
            resp.release()
        if len(data) > _MAX_ANSWER_BYTES:
            raise UpstreamError(
                f"MCP server {self.name!r} sent an answer over 16 MiB", reason="upstream_protocol"
            )
        return Exchange(resp.status, content_type, session_id, in_session, body=data)

    async def _iter(self, resp: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
        try:
            async for chunk in resp.content.iter_any():
                yield chunk
        except _NETWORK_ERRORS as exc:
            raise self._failure(exc) from exc
        finally:
            resp.release()

    def _failure(self, exc: BaseException) -> UpstreamError:
        if isinstance(exc, asyncio.TimeoutError):
            return UpstreamTimeout(f"MCP server {self.name!r} did not answer in time")
        if isinstance(exc, aiohttp.ClientConnectorError):
            return UpstreamError(f"cannot connect to MCP server {self.name!r}", reason="upstream_unreachable")
        return UpstreamError(
            f"MCP server {self.name!r} failed: {type(exc).__name__}", reason="upstream_reset"
        )


async def read_response(upstream: str, exchange: Exchange, request_id: Any) -> dict[str, Any]:
    """The response message to ``request_id``, from a JSON body or an SSE stream.

    Notifications and server requests before it are dropped: whoever reads a whole answer
    (a listing, a batch element) has nowhere to relay them. HTTP errors become gateway
    errors: ``404`` on a session is a session the server no longer knows."""
    check_status(upstream, exchange)
    if not exchange.is_stream:
        return _as_response(upstream, exchange.body, request_id)
    found: list[dict[str, Any]] = []

    def keep(unit: bytes) -> bytes | None:
        event = SseEvent.parse(unit)
        if event.data and not found:
            message = _parse(upstream, event.data)
            if message.get("id") == request_id and "method" not in message:
                found.append(message)
        return None

    relay = EventRelay(SSE, keep)
    assert exchange.chunks is not None
    try:
        async for chunk in exchange.chunks:
            relay.feed(chunk)
            if found:
                break
        relay.flush()
    finally:
        exchange.release()
        aclose = getattr(exchange.chunks, "aclose", None)
        if aclose is not None:
            await aclose()
    if not found:
        raise UpstreamError(
            f"MCP server {upstream!r} ended its stream without an answer", reason="upstream_protocol"
        )
    return found[0]


def check_status(upstream: str, exchange: Exchange) -> None:
    """Refuse an HTTP failure that carries no JSON-RPC answer the caller could use. A ``404``
    inside a session means the server forgot the session (the caller must start a new one);
    without a session it may be a JSON-RPC error (2026-07-28 servers answer unknown methods so)."""
    if exchange.status == 404 and exchange.in_session:
        raise NotFound(
            f"MCP server {upstream!r} no longer knows this session", reason="mcp_session_not_found"
        )
    if exchange.status >= 400 and not exchange.content_type.startswith("application/json"):
        raise UpstreamError(
            f"MCP server {upstream!r} answered HTTP {exchange.status}", reason="upstream_status"
        )


def _as_response(upstream: str, body: bytes, request_id: Any) -> dict[str, Any]:
    message = _parse(upstream, body)
    if message.get("id") not in (request_id, None) or ("result" not in message and "error" not in message):
        raise UpstreamError(f"MCP server {upstream!r} answered another request", reason="upstream_protocol")
    return message


def _parse(upstream: str, data: bytes) -> dict[str, Any]:
    try:
        message = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise UpstreamError(f"MCP server {upstream!r} sent invalid JSON", reason="upstream_protocol") from exc
    if not isinstance(message, dict):
        raise UpstreamError(f"MCP server {upstream!r} sent a non-object message", reason="upstream_protocol")
    return message
