"""Where one MCP message goes, and what it names, before policy sees it.

First for each message, so policy only ever sees names the gateway has checked:

* the method's meaning to policy (``gateway/mcp/methods.py``); on ``/mcp`` a method the
  gateway cannot route is ``-32601``;
* the item it names: a tool or prompt name must be an identifier, compared exactly; on
  ``/mcp`` it must be ``{server}__{name}`` of a configured server (``shell`` alone,
  ``Developer__shell`` or an unknown server are refused as unknown tools); a resource URI is
  routed to the server that listed it;
* the 2026-07-28 routing headers, when the caller sent them, must agree with the body;
* the message as it will go upstream: a copy, with the server's own name for the item and
  without Skein's ``_meta`` entry ``skein/approval_id`` (kept aside for the approval stage).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

import orjson

from gateway import approvals
from gateway.call import Call
from gateway.dialects.fields import identifier
from gateway.errors import BadRequest, NotFound
from gateway.mcp import aggregate, names
from gateway.mcp.call import McpCall, Target, mcp_call
from gateway.mcp.catalog import ResourceIndex
from gateway.mcp.jsonrpc import Message
from gateway.mcp.methods import CONNECT, NAME_HEADER_FIELDS, UNKNOWN, Method, method_of
from gateway.mcp.session import AGGREGATED
from gateway.mcp.upstream import McpUpstream
from gateway.stages.base import Stage

APPROVAL_META = "skein/approval_id"
_MAX_URI_CHARS = 2048
#: Methods the aggregated endpoint answers itself, or sends to every server.
_SESSION_METHODS = frozenset({"initialize", "server/discover"})


class McpTarget(Stage):
    name = "route"

    def __init__(self, upstreams: Mapping[str, McpUpstream], resources: ResourceIndex) -> None:
        self._upstreams = upstreams
        self._resources = resources

    async def enter(self, call: Call) -> None:
        mcp = mcp_call(call)
        if mcp.endpoint != AGGREGATED and mcp.endpoint not in self._upstreams:
            raise NotFound(f"no MCP server {mcp.endpoint!r}", reason="mcp_unknown_server")
        if mcp.invalid is not None:
            raise mcp.invalid.error
        message = mcp.message
        if message is None:  # the session's GET stream
            mcp.target = Target(CONNECT, mcp.endpoint)
            call.trail.resource = {"server": mcp.endpoint, "method": "GET"}
            return
        if not mcp.batch:
            check_routing_headers(call.headers, message)
        method = method_of(message.method)
        name = _named(message, method)
        mcp.outgoing = _outgoing(mcp, message)
        if mcp.endpoint == AGGREGATED:
            mcp.target = await self._aggregated(mcp, message, method, name)
        else:
            mcp.target = Target(method, mcp.endpoint, name)
        call.trail.action = method.action
        call.trail.resource = _audited(mcp.target, message)

    async def _aggregated(self, mcp: McpCall, message: Message, method: Method, name: str | None) -> Target:
        if message.kind == "response":
            raise BadRequest(
                "/mcp sends servers no requests: answer them on /mcp/{server}", reason="mcp_unroutable"
            )
        if method is UNKNOWN or method.action == "completion.complete":
            raise BadRequest(
                f"method {message.method} is served on /mcp/{{server}} only", reason="mcp_method_not_found"
            )
        modern = mcp.headers.get("mcp-protocol-version") in aggregate.MODERN_VERSIONS
        if mcp.session is None and not modern and message.method not in _SESSION_METHODS:
            raise BadRequest(
                "this request needs an Mcp-Session-Id: initialize first", reason="mcp_session_required"
            )
        if name is None:
            return Target(method, None)
        if method.names == "uri":
            return Target(method, await self._server_of(mcp, name), name)
        parts = names.split(name)
        if parts is None or parts[0] not in self._upstreams:
            raise BadRequest(
                f"no {method.item} {name!r} on /mcp: names there are server__name",
                reason="mcp_unknown_tool",
                details={"field": "params.name"},
            )
        server, own = parts
        assert mcp.outgoing is not None
        mcp.outgoing["params"]["name"] = own
        return Target(method, server, own)

    async def _server_of(self, mcp: McpCall, uri: str) -> str:
        """The server that listed ``uri``; when none did through this gateway yet, list the
        resources of the session's servers (every server without a session) and look again."""
        server = self._resources.server_of(uri)
        if server is None:
            candidates = list(mcp.session.upstreams) if mcp.session else list(self._upstreams)
            meta = aggregate.envelope(mcp.message.params) if mcp.message else None
            for candidate in candidates:
                items = await aggregate.list_all(
                    self._upstreams[candidate],
                    "resources/list",
                    "resources",
                    mcp.upstream_session(candidate),
                    mcp.headers,
                    meta,
                )
                self._resources.remember(
                    candidate, [i["uri"] for i in items if isinstance(i.get("uri"), str)]
                )
            server = self._resources.server_of(uri)
        if server is None:
            raise BadRequest(
                "no server listed this resource",
                reason="mcp_unknown_resource",
                details={"field": "params.uri"},
            )
        return server


def _named(message: Message, method: Method) -> str | None:
    """The item the message names, checked: an identifier for tools and prompts, a bounded
    string for URIs."""
    if method.names is None:
        return None
    value = message.params.get(method.names)
    path = f"params.{method.names}"
    if method.names == "uri":
        if not isinstance(value, str) or not value or len(value) > _MAX_URI_CHARS:
            raise BadRequest(
                f"'{path}' must be a URI of at most {_MAX_URI_CHARS} characters", details={"field": path}
            )
        return value
    return identifier(value, path)


def _outgoing(mcp: McpCall, message: Message) -> dict[str, Any]:
    outgoing: dict[str, Any] = orjson.loads(orjson.dumps(message.body))  # a deep copy, fast
    meta = outgoing.get("params", {}).get("_meta")
    if isinstance(meta, dict) and APPROVAL_META in meta:
        mcp.presented_approval = approvals.presented(meta.pop(APPROVAL_META), f"params._meta.{APPROVAL_META}")
        if not meta:
            del outgoing["params"]["_meta"]
    return outgoing


def check_routing_headers(headers: Mapping[str, str], message: Message) -> None:
    """``Mcp-Method`` and ``Mcp-Name`` (2026-07-28) must say what the body says: a proxy that
    routed on the headers while the server ran the body would be a confused deputy."""
    method = headers.get("mcp-method")
    if method is not None and method != message.method:
        raise BadRequest(
            "the Mcp-Method header does not match the body's method", reason="mcp_header_mismatch"
        )
    name = headers.get("mcp-name")
    field = NAME_HEADER_FIELDS.get(message.method or "")
    if name is not None and (field is None or _decoded(name) != message.params.get(field)):
        raise BadRequest("the Mcp-Name header does not match the body", reason="mcp_header_mismatch")


def _decoded(value: str) -> str | None:
    if not (value.startswith("=?base64?") and value.endswith("?=")):
        return value
    try:
        return base64.b64decode(value[9:-2], validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None


def _audited(target: Target, message: Message) -> dict[str, Any]:
    """What the audit event names: server, method, the tool or prompt (never arguments, never
    a URI: either may carry personal data)."""
    resource: dict[str, Any] = {"server": target.server, "method": message.method or "(response)"}
    if target.name is not None and target.method.item in ("tool", "prompt"):
        resource[target.method.item] = target.name
    return resource
