"""Minimal Python passthrough proxy: the "what plain Python can do" anchor.

Starlette on uvicorn; the upstream client is httpx.AsyncClient or aiohttp. It checks
`Authorization: Bearer <token>`, swaps in the upstream key, forwards the raw body without
parsing it, streams SSE through chunk by chunk and buffers non-streaming bodies. No
policy, no audit: any real gateway does strictly more work per request than this.

Environment:
    PYPROXY_UPSTREAM      upstream base URL (paths are appended as they come), default http://127.0.0.1:9000
    PYPROXY_TOKENS        comma-separated accepted client tokens, default sk-bench-1234
    PYPROXY_UPSTREAM_KEY  key sent upstream, default sk-upstream
    PYPROXY_CLIENT        httpx | aiohttp, default httpx

    uvicorn bench.pyproxy:app --port 8300 --loop uvloop --http httptools --no-access-log
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Iterable
from typing import Any

import aiohttp
import httpx
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

HOP_BY_HOP = frozenset(
    {
        "connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding", "upgrade",
        "proxy-connection", "te", "trailer", "proxy-authenticate", "date", "server",
    }
)  # fmt: skip


def _forwardable(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    return {name: value for name, value in items if name.lower() not in HOP_BY_HOP}


def _settings() -> dict[str, Any]:
    env = os.environ
    return {
        "upstream": env.get("PYPROXY_UPSTREAM", "http://127.0.0.1:9000").rstrip("/"),
        "tokens": frozenset(t for t in env.get("PYPROXY_TOKENS", "sk-bench-1234").split(",") if t),
        "upstream_auth": "Bearer " + env.get("PYPROXY_UPSTREAM_KEY", "sk-upstream"),
        "client": env.get("PYPROXY_CLIENT", "httpx"),
    }


async def proxy(request: Request) -> Response:
    state = request.state
    auth = request.headers.get("authorization", "")
    if not (auth.startswith("Bearer ") and auth[7:] in state.tokens):
        return JSONResponse({"error": {"message": "invalid api key", "type": "auth_error"}}, status_code=401)
    body = await request.body()
    url = state.upstream + request.url.path
    headers = {
        "authorization": state.upstream_auth,
        "content-type": request.headers.get("content-type", "application/json"),
    }
    if state.session is not None:
        return await _via_aiohttp(state.session, request.method, url, body, headers)
    return await _via_httpx(state.client, request.method, url, body, headers)


async def _via_aiohttp(
    session: aiohttp.ClientSession, method: str, url: str, body: bytes, headers: dict[str, str]
) -> Response:
    upstream = await session.request(method, url, data=body or None, headers=headers)
    out_headers = _forwardable(upstream.headers.items())
    if upstream.headers.get("content-type", "").startswith("text/event-stream"):
        return StreamingResponse(
            upstream.content.iter_any(),
            status_code=upstream.status,
            headers=out_headers,
            background=BackgroundTask(upstream.release),
        )
    data = await upstream.read()
    upstream.release()
    return Response(data, status_code=upstream.status, headers=out_headers)


async def _via_httpx(
    client: httpx.AsyncClient, method: str, url: str, body: bytes, headers: dict[str, str]
) -> Response:
    upstream = await client.send(
        client.build_request(method, url, content=body or None, headers=headers), stream=True
    )
    out_headers = _forwardable(upstream.headers.multi_items())
    if upstream.headers.get("content-type", "").startswith("text/event-stream"):
        return StreamingResponse(
            upstream.aiter_raw(),
            status_code=upstream.status_code,
            headers=out_headers,
            background=BackgroundTask(upstream.aclose),
        )
    data = await upstream.aread()
    await upstream.aclose()
    return Response(data, status_code=upstream.status_code, headers=out_headers)


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
    settings = _settings()
    if settings["client"] == "aiohttp":
        connector = aiohttp.TCPConnector(limit=1000, keepalive_timeout=60, ttl_dns_cache=None)
        timeout = aiohttp.ClientTimeout(total=600)
        async with aiohttp.ClientSession(
            connector=connector, auto_decompress=False, timeout=timeout
        ) as session:
            yield {**settings, "session": session, "client": None}
        return
    limits = httpx.Limits(max_connections=1000, max_keepalive_connections=1000, keepalive_expiry=60)
    async with httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(600.0, connect=10.0)) as client:
        yield {**settings, "session": None, "client": client}


app = Starlette(routes=[Route("/{path:path}", proxy, methods=["GET", "POST"])], lifespan=lifespan)
