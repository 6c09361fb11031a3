"""Send the guarded message to its server, or answer it here (the aggregated endpoint).

Last on the way in: nothing reaches a server before policy allowed it, the guard masked it
and an approval (if one was needed) was redeemed. What comes back is left on the call for
the answer: a complete JSON-RPC reply, a listing still to filter, or an SSE stream to relay.

* ``/mcp/{server}``: the message goes to the server in the caller's session; a session
  the server opens (``initialize``) is sealed into Skein's own session id.
* ``/mcp``: ``initialize`` opens a session with every reachable server; ``server/discover``,
  ``ping`` and ``logging/setLevel`` are answered here; listings are gathered from every
  reachable server; a call goes to the server its name or URI designates.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from time import perf_counter
from typing import Any

from gateway.call import Call
from gateway.errors import GatewayError, MethodNotAllowed, NotFound, UpstreamError
from gateway.mcp import aggregate, jsonrpc
from gateway.mcp.call import Items, McpCall, mcp_call
from gateway.mcp.session import AGGREGATED, McpSession, SessionSealer, UpstreamSession
from gateway.mcp.upstream import Exchange, McpUpstream, check_status, read_response
from gateway.metrics import Metrics
from gateway.stages.base import Stage

log = logging.getLogger("skein.mcp")

#: Session traffic the aggregated endpoint acknowledges itself (it opened the sessions).
_LOCAL_RESULTS = frozenset({"ping", "logging/setLevel"})


class ForwardMcp(Stage):
    name = "forward"

    def __init__(
        self, upstreams: Mapping[str, McpUpstream], sealer: SessionSealer, metrics: Metrics, version: str
    ) -> None:
        self._upstreams = upstreams
        self._sealer = sealer
        self._metrics = metrics
        self._version = version

    async def enter(self, call: Call) -> None:
        mcp = mcp_call(call)
        target = mcp.target
        assert target is not None
        if mcp.trace is not None:  # servers continue this stage's span, not the caller's
            mcp.headers = mcp.trace.outgoing(mcp.headers)
        if mcp.message is None:
            assert target.server is not None
            await self._open_stream(mcp, target.server)
        elif target.server is None:
            await self._aggregated(mcp)
        else:
            await self._forward(mcp, target.server)

    # -- one server ----------------------------------------------------------------------------

    async def _forward(self, mcp: McpCall, server: str) -> None:
        message, outgoing, target = mcp.message, mcp.outgoing, mcp.target
        assert message is not None and outgoing is not None and target is not None
        exchange = await self._post(mcp, server, outgoing, mcp.upstream_session(server))
        if not message.is_request:
            exchange.release()
            if exchange.status not in (200, 202):
                check_status(server, exchange)
                raise UpstreamError(f"MCP server {server!r} refused the message", reason="upstream_refused")
            mcp.accepted = True
            return
        if message.method == "initialize" and mcp.endpoint != AGGREGATED:
            mcp.reply = await read_response(server, exchange, message.id)
            self._seal(mcp, {server: UpstreamSession(exchange.session_id, _version_of(mcp.reply))})
            return
        if target.method.listing is not None:
            answer = await read_response(server, exchange, message.id)
            found = answer.get("result")
            items = found.get(target.method.listing) if isinstance(found, dict) else None
            if not isinstance(found, dict) or not isinstance(items, list):
                mcp.reply = answer  # an error, or no listing: nothing to filter
                return
            rest = {k: v for k, v in found.items() if k != target.method.listing}
            mcp.items = Items(
                target.method.listing, [(server, i) for i in items if isinstance(i, dict)], rest
            )
            return
        if mcp.buffered or not exchange.is_stream:
            mcp.reply = await read_response(server, exchange, message.id)
            return
        mcp.exchange = exchange

    async def _post(
        self, mcp: McpCall, server: str, message: dict[str, Any], session: UpstreamSession | None
    ) -> Exchange:
        trail, started = mcp.trail, perf_counter()
        trail.provider = server
        try:
            exchange = await self._upstreams[server].post(message, session, mcp.headers)
        except GatewayError as exc:
            self._metrics.count_upstream_error(f"mcp:{server}", exc.reason)
            raise
        finally:
            trail.upstream_seconds += perf_counter() - started
        trail.upstream_status = exchange.status
        self._metrics.observe_upstream(f"mcp:{server}", perf_counter() - started)
        return exchange

    async def _open_stream(self, mcp: McpCall, server: str) -> None:
        """The session's GET stream of server-initiated messages."""
        session = mcp.upstream_session(server)
        if session is None or session.session_id is None:
            raise MethodNotAllowed(
                f"MCP server {server!r} keeps no session to stream", reason="method_not_allowed"
            )
        exchange = await self._upstreams[server].get(session, mcp.headers)
        mcp.trail.provider, mcp.trail.upstream_status = server, exchange.status
        if exchange.status == 405:
            raise MethodNotAllowed(f"MCP server {server!r} offers no stream", reason="method_not_allowed")
        if not exchange.is_stream:
            check_status(server, exchange)
            raise UpstreamError(f"MCP server {server!r} answered the stream with {exchange.status}")
        mcp.exchange = exchange

    # -- /mcp ---------------------------------------------------------------------------------

    async def _aggregated(self, mcp: McpCall) -> None:
        message, target = mcp.message, mcp.target
        assert message is not None and target is not None
        method = message.method or ""
        if method == "initialize":
            await self._open_sessions(mcp)
        elif method == "server/discover":
            mcp.reply = jsonrpc.result(message.id, self._discovered())
        elif method in _LOCAL_RESULTS:
            mcp.reply = jsonrpc.result(message.id, {})
        elif target.method.listing is not None:
            mcp.items = await self._gather(mcp, method, target.method.listing)
        else:  # notifications: the sessions are the gateway's; a cancellation goes to every server
            if method == "notifications/cancelled" and mcp.outgoing is not None:
                await self._broadcast(mcp, mcp.outgoing)
            mcp.accepted = True

    async def _open_sessions(self, mcp: McpCall) -> None:
        assert mcp.message is not None and mcp.outgoing is not None
        params = mcp.outgoing.get("params", {})
        reachable = {name: self._upstreams[name] for name in mcp.servers}
        sessions = await aggregate.open_sessions(reachable, params, mcp.headers)
        self._seal(mcp, sessions)
        mcp.trail.resource["servers"] = sorted(sessions)
        result = {
            "protocolVersion": aggregate.negotiated(params.get("protocolVersion")),
            "capabilities": aggregate.CAPABILITIES,
            "serverInfo": aggregate.server_info(self._version),
            "instructions": _instructions(sorted(sessions)),
        }
        mcp.reply = jsonrpc.result(mcp.message.id, result)

    def _discovered(self) -> dict[str, Any]:
        return {
            "resultType": "complete",
            "cacheScope": "private",
            "ttlMs": 0,
            "supportedVersions": list(aggregate.MODERN_VERSIONS),
            "capabilities": aggregate.CAPABILITIES,
            "instructions": _instructions(sorted(self._upstreams)),
            "_meta": {"io.modelcontextprotocol/serverInfo": aggregate.server_info(self._version)},
        }

    async def _gather(self, mcp: McpCall, method: str, key: str) -> Items:
        assert mcp.message is not None
        meta = aggregate.envelope(mcp.message.params)
        names = list(mcp.servers)
        started = perf_counter()
        listings = await asyncio.gather(
            *(
                aggregate.list_all(
                    self._upstreams[n], method, key, mcp.upstream_session(n), mcp.headers, meta
                )
                for n in names
            ),
            return_exceptions=True,
        )
        mcp.trail.upstream_seconds += perf_counter() - started
        found: list[tuple[str, dict[str, Any]]] = []
        for name, listing in zip(names, listings, strict=True):
            if isinstance(listing, NotFound):
                raise listing  # the session is gone: the caller must start a new one
            if isinstance(listing, BaseException):
                log.warning("MCP server %s left out of %s: %s", name, method, listing)
                mcp.trail.notes.append("mcp_server_failed")
                continue
            found.extend((name, item) for item in listing)
        # 2026-07-28 listings say how long they may be cached, and by whom: by this caller only.
        result: dict[str, Any] = (
            {"resultType": "complete", "cacheScope": "private", "ttlMs": 0} if meta else {}
        )
        return Items(key, found, result)

    async def _broadcast(self, mcp: McpCall, message: dict[str, Any]) -> None:
        for name in mcp.servers:
            try:
                (await self._upstreams[name].post(message, mcp.upstream_session(name), mcp.headers)).release()
            except GatewayError as exc:
                log.warning("MCP server %s: %s not delivered: %s", name, message.get("method"), exc.message)

    def _seal(self, mcp: McpCall, upstreams: dict[str, UpstreamSession]) -> None:
        if not any(session.session_id for session in upstreams.values()) and mcp.endpoint != AGGREGATED:
            return  # a stateless server: no session to keep
        principal = mcp.principal
        session = McpSession(principal.sub, principal.tenant, mcp.endpoint, upstreams, time.time())
        mcp.new_session = self._sealer.seal(session)


def _version_of(reply: dict[str, Any]) -> str | None:
    found = reply.get("result")
    version = found.get("protocolVersion") if isinstance(found, dict) else None
    return version if isinstance(version, str) else None


def _instructions(servers: list[str]) -> str:
    listed = ", ".join(servers) if servers else "none"
    return f"Skein gateway to the MCP servers {listed}. Tools and prompts are named server__name."
