"""HTTP providers over one shared aiohttp connection pool.

Why aiohttp and not httpx here: under 64 concurrent connections httpx's connection pool
becomes the bottleneck of a proxy (measured in bench/: a Starlette passthrough drops from
~1,250 to ~730 requests/s with httpx, while the same app with aiohttp serves ~7,700).
httpx stays the client for the control plane (JWKS, OPA, bundle URLs).

Every call has a connect timeout and a read timeout (between bytes, so long streams are
fine but a stalled upstream is not); failures are translated into the gateway's error tree.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import aiohttp

from gateway.errors import UpstreamError, UpstreamTimeout
from gateway.settings import ProviderSettings
from gateway.upstream.base import UpstreamRequest, UpstreamResponse

ANTHROPIC_VERSION = "2023-06-01"  # sent when the caller named none: the API's stable version
_STREAM_TYPES = ("text/event-stream", "application/x-ndjson")

# Response headers a proxy must not copy (hop-by-hop or recomputed by our server).
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "transfer-encoding",
        "content-length",
        "content-encoding",
        "upgrade",
        "te",
        "trailer",
        "proxy-authenticate",
        "date",
        "server",
    }
)


_NETWORK_ERRORS = (aiohttp.ClientError, asyncio.TimeoutError, OSError)


def new_pool(limit: int = 1000) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=limit, keepalive_timeout=60, ttl_dns_cache=300)
    # auto_decompress off: bytes pass through untouched; we ask upstreams for identity encoding.
    return aiohttp.ClientSession(connector=connector, auto_decompress=False, timeout=aiohttp.ClientTimeout())


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
                timeout=self._timeout,
            )
        except _NETWORK_ERRORS as exc:
            raise _translate(self.name, exc) from exc
        content_type = resp.headers.get("content-type", "application/json")
        headers_out = {k.lower(): v for k, v in resp.headers.items() if k.lower() not in _HOP_BY_HOP}
        if request.stream and resp.status == 200 and content_type.startswith(_STREAM_TYPES):
            return UpstreamResponse(
                resp.status, content_type, chunks=self._iter(resp), headers=headers_out, release=resp.release
            )
        try:
            data = await resp.read()
        except _NETWORK_ERRORS as exc:
            resp.release()
            raise _translate(self.name, exc) from exc
        resp.release()
        return UpstreamResponse(resp.status, content_type, body=data, headers=headers_out)

    async def _iter(self, resp: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
        try:
            async for chunk in resp.content.iter_any():
                yield chunk
        except _NETWORK_ERRORS as exc:
            raise _translate(self.name, exc) from exc
        finally:
            resp.release()

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
