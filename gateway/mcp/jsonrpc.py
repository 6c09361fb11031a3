"""JSON-RPC 2.0 as MCP uses it: strict parsing of a POST body, and errors as JSON-RPC.

A body is one message or a batch (a non-empty array, at most ``max_batch`` long). Each
message is a *request* (``method`` and ``id``), a *notification* (``method``, no ``id``) or a
*response* to a request of the server (``id`` and exactly one of ``result`` / ``error``).
``params`` and ``result`` must be objects, as MCP defines them; ids are strings or integers.
In a batch a malformed element is answered by an error of its own and the others go on;
a malformed single message is a 400.

Refusals and failures travel as JSON-RPC errors whose ``data`` carries the gateway's stable
reason code (``data.reason``), its status and the policy's reasons, so a client can tell a
denied tool from a broken one. Skein's codes are in the range JSON-RPC reserves for servers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import orjson

from gateway.dialects.fields import IDENTIFIER, MAX_DEPTH
from gateway.errors import (
    BadRequest,
    Forbidden,
    GatewayError,
    NotFound,
    RateLimited,
    Unauthenticated,
    Unavailable,
    UpstreamError,
)

VERSION = "2.0"

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
HEADER_MISMATCH = -32020  # MCP 2026-07-28: a routing header disagrees with the body
#: Skein's own codes (JSON-RPC's "server error" range).
DENIED = -32001  # refused by authentication, policy, a budget or a rate limit
APPROVAL = -32002  # the call waits for a human approval (or its approval cannot be used)
UNAVAILABLE = -32003  # the upstream, the guard or the policy engine could not serve it

RequestId = str | int
Kind = Literal["request", "notification", "response"]
_MAX_ID_CHARS = 256

#: Reasons that name a JSON-RPC code of their own (everything else follows its error class).
_CODES_BY_REASON = {
    "mcp_parse_error": PARSE_ERROR,
    "mcp_invalid_message": INVALID_REQUEST,
    "mcp_method_not_found": METHOD_NOT_FOUND,
    "mcp_header_mismatch": HEADER_MISMATCH,
}


@dataclass(frozen=True, slots=True)
class Message:
    """One JSON-RPC message as the caller sent it (``body`` is the parsed object)."""

    body: dict[str, Any]
    kind: Kind
    method: str | None
    id: RequestId | None

    @property
    def params(self) -> dict[str, Any]:
        params = self.body.get("params")
        return params if isinstance(params, dict) else {}

    @property
    def is_request(self) -> bool:
        return self.kind == "request"


@dataclass(frozen=True, slots=True)
class Invalid:
    """A batch element that is not a valid message: answered with ``error`` (id if known)."""

    error: BadRequest
    id: RequestId | None = None


def parse_body(raw: bytes, max_batch: int) -> tuple[list[Message | Invalid], bool]:
    """The messages of a POST body, and whether it was a batch.

    Raises ``BadRequest`` for a body that is not JSON, an empty or oversized batch, or a
    single message that is malformed (its id, if readable, in ``details``)."""
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"body is not valid JSON (near byte {exc.pos})", reason="mcp_parse_error") from exc
    if isinstance(document, dict):
        parsed = parse_message(document)
        if isinstance(parsed, Invalid):
            raise parsed.error
        return [parsed], False
    if not isinstance(document, list) or not document:
        raise invalid("the body must be a JSON-RPC message or a non-empty batch of them")
    if len(document) > max_batch:
        raise invalid(f"a batch holds at most {max_batch} messages, this one {len(document)}")
    return [parse_message(item) for item in document], True


def parse_message(item: Any) -> Message | Invalid:
    if not isinstance(item, dict):
        return Invalid(invalid("a batch element must be a JSON object"))
    raw_id = item.get("id")
    has_id = "id" in item
    if has_id and not _valid_id(raw_id):
        return Invalid(invalid("'id' must be a string (at most 256 characters) or an integer"))
    message_id: RequestId | None = raw_id if has_id else None
    if item.get("jsonrpc") != VERSION:
        return Invalid(invalid("'jsonrpc' must be \"2.0\"", "jsonrpc"), message_id)
    if "method" in item:
        return _call(item, message_id, has_id)
    return _response(item, message_id)


def _call(item: dict[str, Any], message_id: RequestId | None, has_id: bool) -> Message | Invalid:
    method = item["method"]
    if not isinstance(method, str) or IDENTIFIER.fullmatch(method) is None:
        return Invalid(invalid("'method' must be a method name", "method"), message_id)
    if "params" in item and not isinstance(item["params"], dict):
        return Invalid(invalid("'params' must be an object", "params"), message_id)
    if not _shallow_enough(item.get("params")):
        return Invalid(invalid("'params' is nested too deeply", "params"), message_id)
    kind: Kind = "request" if has_id else "notification"
    return Message(item, kind, method, message_id)


def _response(item: dict[str, Any], message_id: RequestId | None) -> Message | Invalid:
    if message_id is None or ("result" in item) == ("error" in item):
        return Invalid(
            invalid("a message needs a 'method', or an 'id' and one of 'result' / 'error'"), message_id
        )
    payload = item.get("result", item.get("error"))
    if not isinstance(payload, dict):
        return Invalid(invalid("'result' and 'error' must be objects"), message_id)
    if not _shallow_enough(payload):
        return Invalid(invalid("the response is nested too deeply"), message_id)
    return Message(item, "response", None, message_id)


def _valid_id(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, str) and len(value) <= _MAX_ID_CHARS


def _shallow_enough(node: Any, depth: int = 0) -> bool:
    """Bounded nesting, checked once here so no later walker can recurse without end."""
    if depth > MAX_DEPTH:
        return False
    if isinstance(node, dict):
        return all(_shallow_enough(value, depth + 1) for value in node.values())
    if isinstance(node, list):
        return all(_shallow_enough(value, depth + 1) for value in node)
    return True


def invalid(message: str, field: str | None = None) -> BadRequest:
    details = {"field": field} if field else None
    return BadRequest(message, reason="mcp_invalid_message", details=details)


# -- answers ---------------------------------------------------------------------------------


def result(message_id: RequestId | None, value: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": VERSION, "id": message_id, "result": value}


def error(message_id: RequestId | None, failure: GatewayError) -> dict[str, Any]:
    return {"jsonrpc": VERSION, "id": message_id, "error": error_object(failure)}


def error_object(failure: GatewayError) -> dict[str, Any]:
    """The JSON-RPC error for a gateway error: code, message, and the reason in ``data``."""
    fields = failure.fields()
    data: dict[str, Any] = {"reason": failure.reason, "status": failure.status, "reasons": fields["reasons"]}
    if failure.details:
        data.update(failure.details)
    return {"code": code_for(failure), "message": failure.message, "data": data}


def code_for(failure: GatewayError) -> int:
    if failure.reason in _CODES_BY_REASON:
        return _CODES_BY_REASON[failure.reason]
    if failure.reason.startswith("approval_"):
        return APPROVAL
    if isinstance(failure, Unauthenticated | Forbidden | RateLimited):
        return DENIED
    if isinstance(failure, BadRequest):
        return INVALID_PARAMS if failure.details.get("field") else INVALID_REQUEST
    if isinstance(failure, NotFound):
        return INVALID_REQUEST
    if isinstance(failure, Unavailable | UpstreamError):
        return UNAVAILABLE
    return INTERNAL_ERROR


def dumps(document: Any) -> bytes:
    return orjson.dumps(document)
