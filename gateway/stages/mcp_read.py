"""Read an MCP POST: one JSON-RPC message or a batch of them.

After authentication (an unknown caller's body is never read), like the model routes'
``read``: the same content-type and size rules, then JSON-RPC's own (``gateway/mcp/jsonrpc.py``).
A malformed single message is refused here; a malformed batch element is answered by an
error of its own when the batch is dispatched.
"""

from __future__ import annotations

from gateway.call import Call
from gateway.errors import BadRequest, PayloadTooLarge
from gateway.mcp.call import mcp_call
from gateway.mcp.jsonrpc import parse_body
from gateway.stages.base import Stage
from gateway.stages.body import check_content_type


class ReadMcp(Stage):
    name = "read"

    def __init__(self, max_bytes: int, max_batch: int) -> None:
        self._max_bytes = max_bytes
        self._max_batch = max_batch

    async def enter(self, call: Call) -> None:
        mcp = mcp_call(call)
        check_content_type(call.headers.get("content-type"))
        declared = call.headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                raise BadRequest("invalid Content-Length", reason="invalid_request")
            if int(declared) > self._max_bytes:
                raise PayloadTooLarge(f"request body exceeds the limit of {self._max_bytes} bytes")
        call.raw = await call.read_body(self._max_bytes)
        mcp.messages, mcp.batch = parse_body(call.raw, self._max_batch)
