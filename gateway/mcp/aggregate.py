"""One session and one listing over several servers: the aggregated endpoint ``/mcp``.

``initialize`` on ``/mcp`` opens a session with every server the caller may reach (in
parallel; a server that fails is left out and logged) and answers for all of them as one
server. It offers the servers no client capabilities: a server that would ask the client
something (sampling, elicitation, roots) cannot be told which client to ask, so such servers
belong on ``/mcp/{server}``. Listings are fetched whole from each server (every page) and
merged; ``server/discover`` (2026-07-28) is answered by the gateway itself.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from gateway.errors import GatewayError, UpstreamError
from gateway.mcp.session import UpstreamSession
from gateway.mcp.upstream import McpUpstream, read_response
from gateway.trail import new_id

log = logging.getLogger("skein.mcp")

#: Protocol revisions with the initialize handshake, oldest first; and the stateless ones.
HANDSHAKE_VERSIONS = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")
MODERN_VERSIONS = ("2026-07-28",)
MAX_PAGES = 20  # per server and listing: a server that pages forever is cut here
ENVELOPE_PREFIX = "io.modelcontextprotocol/"
CAPABILITIES = {
    "tools": {"listChanged": False},
    "prompts": {"listChanged": False},
    "resources": {"subscribe": False, "listChanged": False},
}


def server_info(version: str) -> dict[str, Any]:
    return {"name": "skein", "title": "Skein MCP gateway", "version": version}


def negotiated(requested: Any) -> str:
    """The handshake version to answer: the caller's if known, else the newest."""
    return requested if requested in HANDSHAKE_VERSIONS else HANDSHAKE_VERSIONS[-1]


def envelope(params: Mapping[str, Any]) -> dict[str, Any] | None:
    """The 2026-07-28 request envelope of the caller's message, for the gateway's own
    requests on its behalf (None: the caller speaks a handshake version)."""
    meta = params.get("_meta")
    if not isinstance(meta, dict):
        return None
    carried = {k: v for k, v in meta.items() if isinstance(k, str) and k.startswith(ENVELOPE_PREFIX)}
    return carried or None


async def request(
    upstream: McpUpstream,
    method: str,
    params: dict[str, Any],
    session: UpstreamSession | None,
    passed: Mapping[str, str],
) -> dict[str, Any]:
    """One request of the gateway's own; its result, or an UpstreamError for an error answer."""
    message = {"jsonrpc": "2.0", "id": f"skein-{new_id()}", "method": method, "params": params}
    answer = await read_response(upstream.name, await upstream.post(message, session, passed), message["id"])
    found = answer.get("result")
    if not isinstance(found, dict):
        raise UpstreamError(f"MCP server {upstream.name!r} refused {method}", reason="upstream_refused")
    return found


async def list_all(
    upstream: McpUpstream,
    method: str,
    key: str,
    session: UpstreamSession | None,
    passed: Mapping[str, str],
    meta: dict[str, Any] | None,
) -> list[dict[str, Any]]:
    """Every item of a listing, page after page."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        params: dict[str, Any] = {"_meta": meta} if meta else {}
        if cursor:
            params["cursor"] = cursor
        found = await request(upstream, method, params, session, passed)
        page = found.get(key)
        if not isinstance(page, list):
            raise UpstreamError(
                f"MCP server {upstream.name!r} sent a {method} without {key}", reason="upstream_protocol"
            )
        items.extend(item for item in page if isinstance(item, dict))
        next_cursor = found.get("nextCursor")
        if not isinstance(next_cursor, str) or not next_cursor:
            break
        cursor = next_cursor
    return items


async def open_sessions(
    upstreams: Mapping[str, McpUpstream], params: Mapping[str, Any], passed: Mapping[str, str]
) -> dict[str, UpstreamSession]:
    """An initialized session with each server that accepts one (failures are left out)."""
    offer = {
        "protocolVersion": negotiated(params.get("protocolVersion")),
        "capabilities": {},
        "clientInfo": params.get("clientInfo") or server_info("0"),
    }
    names = list(upstreams)
    opened = await asyncio.gather(
        *(_open(upstreams[name], offer, passed) for name in names), return_exceptions=True
    )
    sessions: dict[str, UpstreamSession] = {}
    for name, outcome in zip(names, opened, strict=True):
        if isinstance(outcome, UpstreamSession):
            sessions[name] = outcome
        else:
            log.warning("MCP server %s left out of an aggregated session: %s", name, outcome)
    return sessions


async def _open(upstream: McpUpstream, offer: dict[str, Any], passed: Mapping[str, str]) -> UpstreamSession:
    message = {"jsonrpc": "2.0", "id": f"skein-{new_id()}", "method": "initialize", "params": offer}
    exchange = await upstream.post(message, None, passed)
    session_id = exchange.session_id
    answer = await read_response(upstream.name, exchange, message["id"])
    found = answer.get("result")
    if not isinstance(found, dict):
        raise UpstreamError(f"MCP server {upstream.name!r} refused initialize", reason="upstream_refused")
    version = found.get("protocolVersion")
    session = UpstreamSession(session_id, version if isinstance(version, str) else None)
    initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    (await upstream.post(initialized, session, passed)).release()
    return session


async def end_sessions(upstreams: Mapping[str, McpUpstream], sessions: Mapping[str, UpstreamSession]) -> None:
    """DELETE each server's session; a server that cannot be reached is logged."""

    async def end(name: str, session: UpstreamSession) -> None:
        if session.session_id is None or name not in upstreams:
            return
        try:
            await upstreams[name].delete(session)
        except GatewayError as exc:
            log.warning("MCP server %s: ending its session failed: %s", name, exc.message)

    await asyncio.gather(*(end(name, session) for name, session in sessions.items()))
