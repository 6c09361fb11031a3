"""What the privacy guard reads in an MCP message, described as a walk ``Shape``.

Everything a server will read is guarded (``gateway/dialects/slots.py``): a tool's or a
prompt's ``arguments`` entirely (keys and values, at any depth: the caller's data), and every
other string of ``params`` except the protocol's own identifiers (the tool name, a resource
URI, cursors, versions, tokens), which the gateway validates and which must reach the server
unchanged. A response the caller sends to a server's request (a sampling result, an
elicitation answer) is guarded the same way under ``result``.
"""

from __future__ import annotations

from typing import Any

from gateway.dialects.slots import Shape, TextSlots, collect

_META = "_meta"
_ENVELOPE = (  # 2026-07-28: the request envelope inside _meta
    "io.modelcontextprotocol/protocolVersion",
    "io.modelcontextprotocol/clientCapabilities",
    "io.modelcontextprotocol/clientInfo",
    "io.modelcontextprotocol/logLevel",
)

MCP_SHAPE = Shape(
    vocabulary=frozenset(
        {
            _META,
            *_ENVELOPE,
            "name",
            "title",
            "version",
            "arguments",
            "argument",
            "value",
            "context",
            "uri",
            "cursor",
            "protocolVersion",
            "capabilities",
            "clientInfo",
            "level",
            "requestId",
            "reason",
            "progressToken",
            "progress",
            "total",
            "message",
            "ref",
            "type",
            "text",
            "role",
            "content",
            "model",
            "stopReason",
            "action",
            "roots",
            "requestState",
            "inputResponses",
            "mimeType",
            "data",
            "blob",
            "annotations",
        }
    ),
    structural=frozenset(
        {
            "name",
            "version",
            "uri",
            "cursor",
            "protocolVersion",
            "io.modelcontextprotocol/protocolVersion",
            "level",
            "type",
            "role",
            "model",
            "stopReason",
            "action",
            "mimeType",
            "progressToken",
            "requestState",
        }
    ),
    free_form=frozenset({"arguments", "context"}),
    binary=frozenset({"blob", "data"}),
)


def message_slots(message: dict[str, Any]) -> TextSlots:
    """The texts of an outgoing message: its ``params`` (a request or notification) or its
    ``result`` (the caller's answer to a server's request)."""
    payload = message.get("params") if "method" in message else message.get("result")
    return collect(payload if isinstance(payload, dict) else {}, MCP_SHAPE)
