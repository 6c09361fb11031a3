"""Calls that wait for a human: the approval a decision asks for, and its one use.

When a decision says ``approval_required``, the call is not carried out. The gateway files
an approval in the controller store (``pending``, for whoever approves the caller's requests:
its manager in the org chart, else the approver role its profile names; it expires after
``controller.approval_ttl_seconds``) and refuses the call with reason ``approval_required``,
the approval's id and where to follow it (``GET /api/v1/approvals/{id}``, where the approver
approves or rejects it). The caller then retries the *same* call naming the approval (MCP: ``_meta`` entry
``skein/approval_id``; model calls: the ``x-skein-approval-id`` header). The retry is carried
out once: the approval must be the caller's own, for the same subject (``github__merge_pr``)
and the same arguments (a SHA-256 fingerprint), and it moves ``approved -> used`` by
compare-and-set, so two retries racing cannot both run.

Every step leaves an audit event: the refused call (reason ``approval_required`` and the
approval id), every refused retry (``approval_pending``, ``approval_rejected``,
``approval_used``, ``approval_mismatch``...), and the retry carried out (note
``approval_redeemed``). Deciding is the controller API's, audited there.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from fnmatch import fnmatchcase
from typing import Any

import orjson

from gateway.controller.service import Service
from gateway.controller.views import effective_status
from gateway.db.controller import Approval
from gateway.domain import Principal
from gateway.errors import BadRequest, Forbidden, GatewayError, Reason
from gateway.trail import new_id
from signing.schema import RoleProfile

STATUS_PATH = "/api/v1/approvals/{id}"
HEADER = "x-skein-approval-id"
_APPROVAL_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")

#: Why a presented approval cannot be used, by its status.
_NOT_USABLE = {
    "pending": ("approval_pending", "approval {id} is still pending; retry once it is approved"),
    "rejected": ("approval_rejected", "approval {id} was rejected"),
    "expired": ("approval_expired", "approval {id} expired; the call needs a new one"),
    "used": ("approval_used", "approval {id} was used already; the call needs a new one"),
}


class ApprovalGate:
    """Files and redeems approvals on the controller's store, through its ``Service`` (which
    opens the store on first use, answers 503 while it cannot, and says who approves)."""

    def __init__(self, service: Service) -> None:
        self._service = service

    async def request(
        self,
        principal: Principal,
        profiles: Sequence[RoleProfile],
        subject: str,
        fingerprint: str,
        payload: Mapping[str, Any],
    ) -> GatewayError:
        """File a pending approval; the refusal that tells the caller about it. Who approves is
        resolved as for every approval (``Service.approver_for``): the caller's manager in the
        org chart, else the approver role of its profiles (those that ask for this one first)."""
        service = self._service
        caller = await service.person_of(principal)
        approver = await service.approver_for(caller, asking_first(profiles, subject))
        if approver is None:
            message = f"{subject} needs an approval and nobody can give it (no manager, no approver role)"
            raise Forbidden(
                message, reason="approval_unavailable", reasons=[Reason("approval_unavailable", message)]
            )
        now = service.now()
        approval = Approval(
            id=new_id(),
            tenant=principal.tenant,
            requested_by=principal.sub,
            approver_role=approver.role,
            subject=subject,
            payload={**payload, "fingerprint": fingerprint},
            status="pending",
            decided_by=None,
            note=None,
            created_at=now,
            decided_at=None,
            approver_user=approver.user_id,
            expires_at=now + service.settings.approval_ttl_seconds,
        )
        await service.use(lambda store: store.add_approval(approval))
        by = f"user {approver.user_id}" if approver.user_id else f"role {approver.role}"
        message = f"{subject} needs an approval by {by}: approval {approval.id} is pending"
        return _refusal("approval_required", message, approval.id)

    async def redeem(
        self, approval_id: str, principal: Principal, subject: str, fingerprint: str
    ) -> Approval:
        """The approval's one use, or the refusal that says why it cannot be used."""
        approval = await self._service.use(lambda store: store.get_approval(approval_id))
        if approval is None or approval.tenant != principal.tenant:
            raise _refusal("approval_not_found", f"no approval {approval_id}", approval_id)
        if (
            approval.requested_by != principal.sub
            or approval.subject != subject
            or approval.payload.get("fingerprint") != fingerprint
        ):
            raise _refusal(
                "approval_mismatch",
                f"approval {approval_id} was given for another caller, call or arguments",
                approval_id,
            )
        status = effective_status(approval, self._service.now())
        if status != "approved":
            code, text = _NOT_USABLE.get(status, _NOT_USABLE["used"])
            raise _refusal(code, text.format(id=approval_id), approval_id)
        used = await self._service.use(lambda store: store.redeem_approval(approval_id))
        if used is None:  # another retry won the compare-and-set
            code, text = _NOT_USABLE["used"]
            raise _refusal(code, text.format(id=approval_id), approval_id)
        return used


def asking_first(profiles: Sequence[RoleProfile], subject: str | None) -> list[RoleProfile]:
    """The caller's profiles, those whose ``approvals.tools`` cover ``subject`` first (then by
    role name): their approver role is the one asked."""

    def asks(profile: RoleProfile) -> bool:
        return subject is not None and any(fnmatchcase(subject, glob) for glob in profile.approvals.tools)

    return sorted(profiles, key=lambda p: (not asks(p), p.role))


def fingerprint(document: Any) -> str:
    """What an approval is bound to: the SHA-256 of the call's arguments (an MCP tool call) or
    body (a model call) as canonical JSON, so a retry must ask for exactly the same thing."""
    return hashlib.sha256(orjson.dumps(document, option=orjson.OPT_SORT_KEYS)).hexdigest()


def presented(value: Any, field: str = HEADER) -> str | None:
    """An approval id as a caller presents it (``field``: the header or ``_meta`` entry), checked."""
    if value is None:
        return None
    if not isinstance(value, str) or _APPROVAL_ID.fullmatch(value) is None:
        raise BadRequest(
            f"'{field}' is an approval id: 1 to 64 letters, digits, '-' or '_'", details={"field": field}
        )
    return value


def _refusal(code: str, message: str, approval_id: str) -> Forbidden:
    details = {"approval_id": approval_id, "status_url": STATUS_PATH.format(id=approval_id)}
    return Forbidden(message, reason=code, reasons=[Reason(code, message)], details=details)
