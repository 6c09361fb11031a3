"""The MCP routes: ``/mcp/{server}`` (one server) and ``/mcp`` (all of the caller's).

Streamable HTTP: ``POST`` carries a JSON-RPC message or a batch, answered with JSON or,
when the server streams, with SSE relayed event by event; ``GET`` (on ``/mcp/{server}``)
opens the session's stream of server-initiated messages; ``DELETE`` ends the session.

A POST runs two pipelines (``gateway/app.py`` builds them): the *envelope* (authenticate,
read, session, profile) once, then the *message* pipeline (route, decide, mask, approve,
forward, filter) for each JSON-RPC message, each its own audited call. A refusal of a
message is a JSON-RPC error in an HTTP 200 (the session goes on); failures of the request
itself keep their HTTP status: 401 (with ``WWW-Authenticate``), 400 for a body that is not
JSON-RPC or a missing session, 404 for an unknown session, 413, 415.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from time import perf_counter
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from gateway.call import Call
from gateway.dialects.framing import SSE, EventRelay, SseEvent, sse_event
from gateway.dialects.openai import CHAT
from gateway.dialects.restoring import restore_tree
from gateway.errors import ClientDisconnected, GatewayError, NotFound
from gateway.http.proxy import read_body
from gateway.http.streaming import TrailStreamingResponse
from gateway.mcp import aggregate, jsonrpc
from gateway.mcp.call import McpCall, mcp_call
from gateway.mcp.jsonrpc import Invalid, Message
from gateway.mcp.session import AGGREGATED
from gateway.mcp.upstream import SESSION_HEADER, McpUpstream
from gateway.pipeline import Finish, Pipeline
from gateway.services import Gateway
from gateway.trail import Trail

_JSON = "application/json"
#: Failures of a single message that are about the HTTP request, not the message: their status.
_TRANSPORT_REASONS = frozenset(
    {
        "mcp_parse_error",
        "mcp_invalid_message",
        "mcp_session_required",
        "mcp_session_not_found",
        "mcp_unknown_server",
    }
)


# -- routes ------------------------------------------------------------------------------------


async def mcp_post(request: Request) -> Response:
    call = _call(request, "mcp")
    call.read_body = lambda limit: read_body(request, limit)
    return await _gateway(request).mcp.post.run(call)


async def mcp_get(request: Request) -> Response:
    return await _gateway(request).mcp.stream.run(_call(request, "mcp.stream"))


async def mcp_delete(request: Request) -> Response:
    return await _gateway(request).mcp.end.run(_call(request, "mcp.session.end"))


def _gateway(request: Request) -> Gateway:
    gateway: Gateway = request.state.gateway
    return gateway


def _call(request: Request, action: str) -> McpCall:
    server = request.path_params.get("server")
    route = "/mcp/{server}" if server is not None else "/mcp"
    # MCP errors are JSON-RPC, rendered here; the dialect is only the Call's required seam.
    return McpCall(CHAT, request.headers, Trail(route=route, action=action), endpoint=server or AGGREGATED)


# -- answers -----------------------------------------------------------------------------------


class McpAnswers:
    def __init__(self, upstreams: dict[str, McpUpstream], *, overhead_header: bool) -> None:
        self._upstreams = upstreams
        self._overhead_header = overhead_header

    def headers(self, call: Call) -> dict[str, str]:
        trail = call.trail
        headers = {"x-skein-request-id": trail.request_id}
        if trail.decision_id:
            headers["x-skein-decision-id"] = trail.decision_id
        if self._overhead_header:
            headers["x-skein-overhead-ms"] = f"{trail.overhead() * 1000.0:.3f}"
        return headers

    def dispatch(self, messages: Pipeline) -> Callable[[Call, Finish], Awaitable[Response]]:
        """The envelope's ``respond``: each message through the message pipeline."""

        async def respond(call: Call, finish: Finish) -> Response:
            envelope = mcp_call(call)
            envelope.handed_off = True
            if not envelope.batch:
                return await messages.run(
                    _message_call(envelope, envelope.messages[0], envelope.trail.started)
                )
            replies: list[dict[str, Any]] = []
            refused: list[GatewayError] = []  # notifications and responses have no reply to carry it
            for item in envelope.messages:
                element = _message_call(envelope, item, perf_counter())
                await messages.run(element)
                if element.reply is not None:
                    replies.append(element.reply)
                elif element.trail.error is not None:
                    refused.append(element.trail.error)
            headers = self.headers(call)
            if not replies and refused:
                body = jsonrpc.dumps(jsonrpc.error(None, refused[0]))
                return Response(body, refused[0].status, headers, media_type=_JSON)
            if not replies:
                return Response(status_code=202, headers=headers)
            return Response(jsonrpc.dumps(replies), 200, headers, media_type=_JSON)

        return respond

    async def respond(self, call: Call, finish: Finish) -> Response:
        """The message pipeline's answer: accepted, a reply, or a relayed stream."""
        mcp = mcp_call(call)
        headers = self.headers(call)
        if mcp.new_session is not None:
            headers[SESSION_HEADER] = mcp.new_session
        if mcp.accepted:
            call.trail.status = 202
            return Response(status_code=202, headers=headers)
        if mcp.exchange is not None:
            return self._relay(mcp, headers, finish)
        assert mcp.reply is not None, "forward (or filter) leaves a reply"
        if call.mapping:
            mcp.reply = restore_tree(mcp.reply, call.mapping)
        call.trail.status = 200
        return Response(jsonrpc.dumps(mcp.reply), 200, headers, media_type=_JSON)

    def fail_message(self, call: Call, error: GatewayError) -> Response:
        """A message refused or failed: its JSON-RPC error; a notification gets the status."""
        mcp = mcp_call(call)
        message_id = mcp.message.id if mcp.message else (mcp.invalid.id if mcp.invalid else None)
        answer = jsonrpc.error(message_id, error)
        is_request = (mcp.message is not None and mcp.message.is_request) or mcp.invalid is not None
        mcp.reply = answer if is_request else None
        status = 200
        if not mcp.batch and (error.reason in _TRANSPORT_REASONS or not is_request or error.status == 401):
            status = error.status
        headers = {**self.headers(call), **error.headers}
        return Response(jsonrpc.dumps(answer), status, headers, media_type=_JSON)

    def fail(self, call: Call, error: GatewayError) -> Response:
        """The request itself failed (before any message was decided): the HTTP status."""
        mcp = mcp_call(call)
        single = mcp.messages[0] if len(mcp.messages) == 1 else None
        message_id = single.id if isinstance(single, Message | Invalid) else None
        headers = {**self.headers(call), **error.headers}
        return Response(
            jsonrpc.dumps(jsonrpc.error(message_id, error)), error.status, headers, media_type=_JSON
        )

    async def end_session(self, call: Call, finish: Finish) -> Response:
        """DELETE: the sessions the id holds are ended at their servers."""
        mcp = mcp_call(call)
        assert mcp.session is not None, "the session stage requires one"
        if mcp.endpoint != AGGREGATED and mcp.endpoint not in self._upstreams:
            raise NotFound(f"no MCP server {mcp.endpoint}", reason="mcp_unknown_server")
        await aggregate.end_sessions(self._upstreams, mcp.session.upstreams)
        call.trail.resource = {"server": None if mcp.endpoint == AGGREGATED else mcp.endpoint}
        call.trail.resource["servers"] = sorted(mcp.session.upstreams)
        call.trail.status = 200
        return Response(status_code=200, headers=self.headers(call))

    async def stream(self, call: Call, finish: Finish) -> Response:
        """GET: the server's stream, relayed (nothing to restore: no call's pseudonyms are in it)."""
        mcp = mcp_call(call)
        return self._relay(mcp, self.headers(call), finish)

    def _relay(self, mcp: McpCall, headers: dict[str, str], finish: Finish) -> Response:
        exchange = mcp.exchange
        assert exchange is not None and exchange.chunks is not None
        chunks = exchange.chunks
        mapping = mcp.mapping
        aggregated = mcp.endpoint == AGGREGATED
        message_id = mcp.message.id if mcp.message else None
        answered = [False]  # the response to the caller's request went out: the call is complete

        def handle(unit: bytes) -> bytes | None:
            event = SseEvent.parse(unit)
            if not event.data:
                return unit  # priming events, comments
            document = event.json_object()
            if document is None:
                return None  # not a message: nothing a client could use
            if "method" not in document and message_id is not None and document.get("id") == message_id:
                answered[0] = True
            elif aggregated and "method" in document and "id" in document:
                return None  # a server's request: /mcp cannot say which client should answer it
            return event.render(jsonrpc.dumps(restore_tree(document, mapping))) if mapping else unit

        relay = EventRelay(SSE, handle)

        async def body() -> AsyncIterator[bytes]:
            # The stream ends with the answer (servers SHOULD close it then): a client that
            # leaves once it has its answer has not cut the call short.
            async for chunk in chunks:
                out = relay.feed(chunk)
                if out:
                    yield out
                if answered[0]:
                    return
            tail = relay.flush()
            if tail:
                yield tail

        async def on_close(error: GatewayError | None) -> None:
            # A GET stream ends when its client leaves; a POST's when its answer went out.
            normal_end = answered[0] or mcp.message is None
            if error is not None and not (normal_end and isinstance(error, ClientDisconnected)):
                mcp.fail(error)
            exchange.release()
            await finish(mcp)

        def error_event(error: GatewayError) -> bytes:
            return sse_event(jsonrpc.dumps(jsonrpc.error(message_id, error)), "message")

        mcp.streaming = True
        mcp.trail.status = 200
        headers = {**headers, "cache-control": "no-cache"}
        return TrailStreamingResponse(
            body(),
            on_close=on_close,
            error_event=error_event,
            status_code=200,
            headers=headers,
            media_type="text/event-stream",
        )


def _message_call(envelope: McpCall, item: Message | Invalid, started: float) -> McpCall:
    """A call of its own for one message, carrying what the envelope established."""
    outer = envelope.trail
    trail = Trail(route=outer.route, action="mcp", request_id=outer.request_id, started=started)
    trail.wall_start = outer.wall_start
    trail.principal, trail.stages = outer.principal, dict(outer.stages)
    trail.bundle_revision, trail.bundle_digest = outer.bundle_revision, outer.bundle_digest
    call = McpCall(
        envelope.dialect,
        envelope.headers,
        trail,
        endpoint=envelope.endpoint,
        session=envelope.session,
        batch=envelope.batch,
        buffered=envelope.batch,
    )
    call.bundle = envelope.bundle
    if isinstance(item, Invalid):
        call.invalid = item
    else:
        call.message = item
    return call
