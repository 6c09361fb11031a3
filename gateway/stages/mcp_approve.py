"""A tool call that needs a human approval waits for it (``gateway/approvals.py``).

After the guard (the approval keeps the arguments as the server would see them, masked per
the caller's privacy mode, so the approver sees what will run) and before forwarding. A
``tools.call`` whose decision says ``approval_required`` is carried out only as the retry of
an approved call, naming its approval in ``params._meta["skein/approval_id"]``; otherwise
an approval is filed and the call is refused with its id.
"""

from __future__ import annotations

from gateway.approvals import ApprovalGate
from gateway.call import Call
from gateway.errors import GatewayError
from gateway.mcp import names
from gateway.mcp.call import mcp_call
from gateway.stages.base import Stage


class ApproveMcp(Stage):
    name = "approve"

    def __init__(self, gate: ApprovalGate) -> None:
        self._gate = gate

    async def enter(self, call: Call) -> None:
        mcp = mcp_call(call)
        target = mcp.target
        assert target is not None
        if target.method.action != "tools.call" or not call.decision.approval_required:
            return
        assert target.server is not None and target.name is not None and mcp.arguments_sha256 is not None
        subject = names.join(target.server, target.name)
        principal, trail = call.principal, call.trail
        if mcp.presented_approval is not None:
            trail.resource["approval_id"] = mcp.presented_approval
            approval = await self._gate.redeem(
                mcp.presented_approval, principal, subject, mcp.arguments_sha256
            )
            mcp.approval_id = approval.id
            trail.notes.append("approval_redeemed")
            return
        assert call.bundle is not None and mcp.outgoing is not None
        profiles = [call.bundle.profiles[r] for r in principal.roles if r in call.bundle.profiles]
        payload = {
            "kind": "mcp.tools.call",
            "server": target.server,
            "tool": target.name,
            "arguments": mcp.outgoing.get("params", {}).get("arguments", {}),  # as the server would see them
            "request_id": trail.request_id,
        }
        refusal: GatewayError = await self._gate.request(
            principal, profiles, subject, mcp.arguments_sha256, payload
        )
        mcp.approval_id = trail.resource["approval_id"] = str(refusal.details["approval_id"])
        raise refusal
