"""The caller's MCP session, from its ``Mcp-Session-Id``.

Right after authentication: a session id is opened only for the principal it was issued
to, on the endpoint it was issued for (``gateway/mcp/session.py``). Anything else, an
altered, expired or foreign id, is ``404`` like an unknown session, which tells a client
to start a new one and tells another principal nothing. A request without a session id
goes on (``initialize`` starts one; 2026-07-28 clients and stateless servers have none),
except where a session is the point (``required``: the GET stream, DELETE).
"""

from __future__ import annotations

import time

from gateway.call import Call
from gateway.errors import BadRequest, NotFound
from gateway.mcp.call import mcp_call
from gateway.mcp.session import SessionSealer
from gateway.mcp.upstream import SESSION_HEADER
from gateway.stages.base import Stage


class McpSessionStage(Stage):
    name = "session"

    def __init__(self, sealer: SessionSealer, *, required: bool = False) -> None:
        self._sealer = sealer
        self._required = required

    async def enter(self, call: Call) -> None:
        mcp = mcp_call(call)
        token = call.headers.get(SESSION_HEADER)
        if token is None:
            if self._required:
                raise BadRequest("this request needs an Mcp-Session-Id", reason="mcp_session_required")
            return
        principal = call.principal
        session = self._sealer.open(token, time.time())
        if session is None or not session.belongs_to(principal.sub, principal.tenant, mcp.endpoint):
            raise NotFound("unknown or expired MCP session", reason="mcp_session_not_found")
        mcp.session = session
