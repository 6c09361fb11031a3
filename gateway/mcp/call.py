"""The per-call state of the MCP pipelines: a ``Call`` with what MCP stages read and leave.

One HTTP POST is an *envelope* call (authenticate, read, session, profile), then one
*message* call per JSON-RPC message: each message is decided, guarded, forwarded and
audited on its own, so a batch is authorised element by element and every element leaves
its own audit event. GET (the server's stream) and DELETE (end of session) are one call each.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gateway.call import Call
from gateway.mcp.jsonrpc import Invalid, Message
from gateway.mcp.methods import Method
from gateway.mcp.session import AGGREGATED, McpSession, UpstreamSession
from gateway.mcp.upstream import Exchange


@dataclass(frozen=True, slots=True)
class Target:
    """Where a message goes and what policy is asked about it.

    ``server`` is None when the aggregated endpoint answers the message itself or sends it
    to every server (initialize, discover, listings); ``name`` is the item the message names
    as its server knows it (the tool without the ``server__`` prefix, a resource URI)."""

    method: Method
    server: str | None
    name: str | None = None


@dataclass(slots=True)
class Items:
    """A listing gathered from one or more servers, before policy filters it."""

    key: str  # the result's array: "tools", "prompts", "resources", "resourceTemplates"
    found: list[tuple[str, dict[str, Any]]]  # (server, item)
    result: dict[str, Any]  # the rest of the result (nextCursor, resultType...)


@dataclass(slots=True)
class McpCall(Call):
    endpoint: str = AGGREGATED  # the route's server, or AGGREGATED for /mcp
    # -- the envelope -------------------------------------------------------------------------
    messages: list[Message | Invalid] = field(default_factory=list)
    batch: bool = False
    session: McpSession | None = None
    handed_off: bool = False  # the message calls carry the record from here on
    # -- one message --------------------------------------------------------------------------
    message: Message | None = None  # None with ``invalid`` unset: the GET stream
    invalid: Invalid | None = None  # a malformed batch element, answered by its error
    target: Target | None = None
    outgoing: dict[str, Any] | None = None  # the message as it goes upstream (guarded, renamed)
    arguments_sha256: str | None = None  # of the caller's own arguments, for approvals
    presented_approval: str | None = None  # _meta "skein/approval_id" of a retried call
    approval_id: str | None = None  # an approval this call asked for or redeemed
    buffered: bool = False  # read the upstream's answer whole (batch elements)
    servers: tuple[str, ...] = ()  # the aggregated servers this caller may reach
    exchange: Exchange | None = None  # an upstream answer still to relay (an SSE stream)
    items: Items | None = None  # a listing still to filter
    reply: dict[str, Any] | None = None  # the JSON-RPC answer, when complete
    accepted: bool = False  # a notification or response the upstream took (HTTP 202)
    new_session: str | None = None  # a sealed session id to hand out (initialize)

    def upstream_session(self, server: str) -> UpstreamSession | None:
        """The server's side of this session; without one (2026-07-28, or no session yet)
        the protocol version the caller asked for, so the server reads it the same way."""
        if self.session is not None and server in self.session.upstreams:
            return self.session.upstreams[server]
        version = self.headers.get("mcp-protocol-version")
        return UpstreamSession(None, version) if version else None


def mcp_call(call: Call) -> McpCall:
    assert isinstance(call, McpCall), "MCP stages run on MCP calls"
    return call
