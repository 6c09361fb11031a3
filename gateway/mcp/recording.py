"""The record of MCP calls: one audit event per JSON-RPC message, and the MCP metrics.

The envelope of a POST (authentication, reading, the session) hands each message to a call
of its own, which leaves the audit event; the envelope is recorded only when it failed
before any message was handed on (a bad token, a malformed body, an unknown session).
"""

from __future__ import annotations

from gateway.call import Call
from gateway.errors import is_refusal
from gateway.mcp.call import McpCall
from gateway.recording import Recorder


class McpRecorder(Recorder):
    async def record(self, call: Call) -> None:
        if isinstance(call, McpCall) and call.handed_off:
            return
        await super().record(call)
        if isinstance(call, McpCall) and call.target is not None:
            target, message = call.target, call.message
            method = (message.method or "(response)") if message else "GET"
            tool = target.name if target.method.item == "tool" else None
            self._metrics.observe_mcp(target.server, method, tool, outcome(call))


def outcome(call: Call) -> str:
    """allow, deny, approval (waiting for or refused over an approval) or error."""
    error = call.trail.error
    if error is None:
        return "allow"
    if error.reason.startswith("approval_"):
        return "approval"
    return "deny" if is_refusal(error) else "error"
