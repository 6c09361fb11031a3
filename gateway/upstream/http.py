"""HTTP providers over one shared aiohttp connection pool.

Why aiohttp and not httpx here: under 64 concurrent connections httpx's connection pool
becomes the bottleneck of a proxy (measured in bench/: a Starlette passthrough drops from
~1,250 to ~730 requests/s with httpx, while the same app with aiohttp serves ~7,700).
httpx stays the client for the control plane (JWKS, OPA, bundle URLs).

Every call has a connect timeout and a read timeout (between bytes, so long streams are
fine but a stalled upstream is not); failures are translated into the gateway's error tree.

An upstream is trusted to answer, not to behave. A buffered answer must arrive whole within
``response_timeout_seconds`` of the request (504 ``upstream_timeout``) and be no larger than
``max_response_bytes`` (502 ``upstream_response_too_large``: refused from its Content-Length
before reading a byte, or cut as it grows when it has none). A stream may last as long as it
keeps sending, but no single event (SSE event, NDJSON line) may exceed ``max_event_bytes``
(``upstream_event_too_large``, which ends the stream), so what the relay holds back stays
small. The gateway's memory is bounded by these caps, not by the upstream. Headers that
describe the upstream's connection or site rather than the answer are never passed on
(``forwardable_headers``).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Mapping

import aiohttp

from gateway.errors import UpstreamError, UpstreamTimeout
from gateway.settings import ProviderSettings
from gateway.upstream.base import UpstreamRequest, UpstreamResponse

ANTHROPIC_VERSION = "2023-06-01"  # sent when the caller named none: the API's stable version
_STREAM_TYPES = ("text/event-stream", "application/x-ndjson")

# Response headers a proxy must not copy: hop-by-hop (RFC 9110 7.6.1) or recomputed by our server.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "content-length",
        "content-encoding",
        "upgrade",
        "te",
        "trailer",
        "proxy-authenticate",
        "proxy-authorization",
        "date",
        "server",
    }
)
# ... and the headers that speak for the upstream's site, which a client would apply to ours:
# its cookies, its alternative services, its HSTS policy; ``access-control-*`` (CORS) too.
_SITE_HEADERS = frozenset({"set-cookie", "set-cookie2", "alt-svc", "strict-transport-security"})
_NOT_FORWARDED = _HOP_BY_HOP | _SITE_HEADERS
# Prefixes never copied: CORS would open our origin to other sites' scripts, and ``x-skein-``
# is the gateway's own namespace (served model, overhead, approval id): a provider's copy
# would pass for the gateway's wherever the gateway sets none itself.
_NOT_FORWARDED_PREFIXES = ("access-control-", "x-skein-")

_NETWORK_ERRORS = (aiohttp.ClientError, asyncio.TimeoutError, OSError)


def new_pool(limit: int = 1000) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=limit, keepalive_timeout=60, ttl_dns_cache=300)
    # auto_decompress off: bytes pass through untouched; we ask upstreams for identity encoding.
    return aiohttp.ClientSession(connector=connector, auto_decompress=False, timeout=aiohttp.ClientTimeout())


def forwardable_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The upstream's response headers a caller may see, names lower-cased.

    Fields named in the upstream's ``Connection`` header are hop-by-hop as well.
    """
    connection = headers.get("connection") or headers.get("Connection") or ""
    named = {token.strip().lower() for token in connection.split(",")}
    lowered = ((name.lower(), value) for name, value in headers.items())
    return {
        name: value
        for name, value in lowered
        if name not in _NOT_FORWARDED and name not in named and not name.startswith(_NOT_FORWARDED_PREFIXES)
    }


class HttpUpstream:
    """One provider. It speaks its ``dialect`` at ``base_url`` and, when ``openai_path`` is
    set, the OpenAI API below that path too (Ollama and Anthropic both serve it)."""

    def __init__(self, name: str, settings: ProviderSettings, pool: aiohttp.ClientSession) -> None:
        self.name = name
        base = settings.base_url.rstrip("/")
        bases: dict[str, str] = {settings.dialect: base}
        if settings.openai_path is not None:
            bases.setdefault("openai", base + settings.openai_path.rstrip("/"))
        key = os.environ.get(settings.api_key_env) if settings.api_key_env else None
        # Per API family: where to send and how to present the key (each family has its own way).
        self._targets = {family: (url, _headers(family, key)) for family, url in bases.items()}
        self._pool = pool
        self._timeout = aiohttp.ClientTimeout(
            connect=settings.connect_timeout_seconds, sock_read=settings.read_timeout_seconds
        )
        # A buffered answer's deadline: aiohttp's ``total`` runs until the body is read (and is
        # cheaper per call than asyncio.timeout); a stream has none, it may last as long as it sends.
        self._buffered_timeout = aiohttp.ClientTimeout(
            total=settings.response_timeout_seconds,
            connect=settings.connect_timeout_seconds,
            sock_read=settings.read_timeout_seconds,
        )
        self._deadline = settings.response_timeout_seconds
        self._max_bytes = settings.max_response_bytes
        self._max_event = settings.max_event_bytes

    def speaks(self, family: str) -> bool:
        return family in self._targets

    async def send(self, request: UpstreamRequest) -> UpstreamResponse:
        base, own = self._targets[request.dialect.family]
        headers = {**own, **request.headers} if request.headers else own  # only anthropic-version, -beta
        try:
            resp = await self._pool.post(
                base + request.dialect.upstream_path,
                data=request.body,
                headers=headers,
                timeout=self._timeout if request.stream else self._buffered_timeout,
            )
        except _NETWORK_ERRORS as exc:
            raise _translate(self.name, exc) from exc
        content_type = resp.headers.get("content-type", "application/json")
        headers_out = forwardable_headers(resp.headers)
        if request.stream and resp.status == 200 and content_type.startswith(_STREAM_TYPES):
            return UpstreamResponse(
                resp.status,
                content_type,
                chunks=self._iter(resp, _separators(content_type)),
                headers=headers_out,
                release=resp.release,
            )
        try:
            if request.stream:  # asked for a stream, answered with a body (an error): the deadline applies
                async with asyncio.timeout(self._deadline):
                    data = await self._read(resp)
            else:
                data = await self._read(resp)
        except TimeoutError as exc:
            resp.close()
            raise _translate(self.name, exc) from exc
        except BaseException:
            resp.close()  # a body we did not read to its end: the connection cannot be reused
            raise
        resp.release()
        return UpstreamResponse(resp.status, content_type, body=data, headers=headers_out)

    async def _read(self, resp: aiohttp.ClientResponse) -> bytes:
        declared = resp.content_length
        if declared is not None and declared > self._max_bytes:
            raise self._too_large()
        try:
            if declared is not None:
                return await resp.read()  # aiohttp reads exactly Content-Length bytes
            parts: list[bytes] = []
            size = 0
            async for part in resp.content.iter_any():  # no length (chunked): count as it comes
                size += len(part)
                if size > self._max_bytes:
                    raise self._too_large()
                parts.append(part)
            return b"".join(parts)
        except _NETWORK_ERRORS as exc:
            raise _translate(self.name, exc) from exc

    async def _iter(
        self, resp: aiohttp.ClientResponse, separators: tuple[bytes, ...]
    ) -> AsyncIterator[bytes]:
        bound = EventBound(self._max_event, separators)
        try:
            async for chunk in resp.content.iter_any():
                if not bound.accepts(chunk):
                    resp.close()
                    raise UpstreamError(
                        f"provider {self.name!r} sent a stream event larger than {self._max_event} bytes",
                        reason="upstream_event_too_large",
                    )
                yield chunk
        except _NETWORK_ERRORS as exc:
            raise _translate(self.name, exc) from exc
        finally:
            resp.release()

    def _too_large(self) -> UpstreamError:
        return UpstreamError(
            f"provider {self.name!r} answered with more than {self._max_bytes} bytes",
            reason="upstream_response_too_large",
        )

    async def aclose(self) -> None:
        return None  # the shared pool is closed by the lifespan


def _headers(family: str, key: str | None) -> dict[str, str]:
    """Anthropic takes its key in x-api-key and wants an API version; the others a Bearer token."""
    headers = {"content-type": "application/json", "accept-encoding": "identity"}
    if family == "anthropic":
        headers["anthropic-version"] = ANTHROPIC_VERSION  # the caller's own version wins
        if key:
            headers["x-api-key"] = key
    elif key:
        headers["authorization"] = f"Bearer {key}"
    return headers


SSE_SEPARATORS = (b"\n\n", b"\r\n\r\n")  # server-sent events end with a blank line
NDJSON_SEPARATORS = (b"\n",)  # Ollama's streams: one JSON document per line


def _separators(content_type: str) -> tuple[bytes, ...]:
    return NDJSON_SEPARATORS if content_type.startswith("application/x-ndjson") else SSE_SEPARATORS


class EventBound:
    """Tracks the bytes of a stream since its last event boundary (``separators``).

    A boundary may be split across chunks: the last bytes of a chunk are searched with the next.
    """

    __slots__ = ("_carry", "_keep", "_limit", "_pending", "_separators")

    def __init__(self, limit: int, separators: tuple[bytes, ...] = SSE_SEPARATORS) -> None:
        self._limit = limit
        self._separators = separators
        self._keep = max(map(len, separators)) - 1  # bytes a split separator can leave behind
        self._pending = 0  # bytes after the last boundary
        self._carry = b""

    def accepts(self, chunk: bytes) -> bool:
        window = self._carry + chunk if self._carry else chunk
        end = max(_past_last(window, sep) for sep in self._separators)
        # A boundary inside the carry was already seen: recounting from it gives the same number.
        self._pending = len(window) - end if end >= 0 else self._pending + len(chunk)
        self._carry = window[-self._keep :] if self._keep else b""
        return self._pending <= self._limit


def _past_last(data: bytes, separator: bytes) -> int:
    """The index just past the last ``separator`` in ``data``, or -1."""
    at = data.rfind(separator)
    return at + len(separator) if at >= 0 else -1


def _translate(provider: str, exc: BaseException) -> UpstreamError:
    if isinstance(exc, asyncio.TimeoutError):
        return UpstreamTimeout(f"provider {provider!r} did not answer in time")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return UpstreamError(f"cannot connect to provider {provider!r}", reason="upstream_unreachable")
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError | ConnectionResetError):
        return UpstreamError(f"provider {provider!r} closed the connection", reason="upstream_reset")
    if isinstance(exc, aiohttp.ClientError):
        return UpstreamError(
            f"provider {provider!r} failed: {type(exc).__name__}", reason="upstream_protocol"
        )
    return UpstreamError(f"provider {provider!r} failed: {exc}", reason="upstream_unreachable")
