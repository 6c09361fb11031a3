"""Approvals: request one, list those waiting for me, read one, approve or reject it.

Who decides is resolved when the approval is requested, through the org chart: the
requester's manager (one person), else the ``approvals.approver_role`` of the requester's
profile (anyone holding that role). Policy then checks every decision against that (and
refuses self-approval). A decision is a compare-and-set from ``pending``: of two approvers
deciding at once exactly one wins; the other gets a 409 naming the status it found. An
approval still pending after ``controller.approval_ttl_seconds`` is expired and can no longer
be decided.

The MCP gateway holds tool calls on the same store (``ControllerStore.add_approval``, subject
``server__tool``) and points callers at ``/api/v1/approvals/{id}``: these routes decide them.
"""

from __future__ import annotations

from gateway.controller.call import ControlCall
from gateway.controller.errors import Conflict
from gateway.controller.models import ApprovalCreate, ApprovalDecision, ApprovalList
from gateway.controller.operation import Operation, Reply
from gateway.controller.service import Service
from gateway.controller.views import approval_view, effective_status, page
from gateway.db.controller import Approval, ApprovalStatus
from gateway.errors import NotFound
from gateway.trail import new_id

_TAGS = ("approvals",)


async def _load_request(service: Service, call: ControlCall) -> None:
    request: ApprovalCreate = call.request
    resource: dict[str, object] = {"kind": "approval_request", "subject": request.subject}
    if request.task_id is not None:
        task_id = request.task_id
        task = await service.use(lambda s: s.get_task(task_id))
        if task is None or task.tenant != call.principal.tenant:
            raise NotFound(f"no task {request.task_id}", details={"field": "task_id"})
        call.subject = task
        resource.update(task_id=task.id, task_created_by=task.created_by, task_to_role=task.to_role)
    call.resource = resource


async def _request(service: Service, call: ControlCall) -> Reply:
    request: ApprovalCreate = call.request
    bundle = call.bundle
    assert bundle is not None
    approver = await service.approver_for(call.caller, [bundle.profiles[r] for r in call.roles])
    if approver is None:
        message = "nobody can approve this: no manager in the org chart and no approvals.approver_role"
        raise Conflict(message, reason="no_approver")
    now = service.now()
    approval = Approval(
        id=new_id(),
        tenant=call.principal.tenant,
        requested_by=call.principal.sub,
        approver_role=approver.role,
        subject=request.subject or f"task:{request.task_id}",
        payload={**request.payload, "reason": request.reason},
        status="pending",
        decided_by=None,
        note=None,
        created_at=now,
        decided_at=None,
        task_id=request.task_id,
        approver_user=approver.user_id,
        expires_at=now + service.settings.approval_ttl_seconds,
    )
    await service.use(lambda s: s.add_approval(approval))
    call.audit(approval_id=approval.id, task_id=approval.task_id, approver=approver.why)
    view = approval_view(approval, now)
    return Reply(201, view, {"location": view["links"]["self"]})


async def load_approval(service: Service, call: ControlCall) -> None:
    approval_id = call.path_params["approval_id"]
    approval = await service.use(lambda s: s.get_approval(approval_id))
    if approval is None or approval.tenant != call.principal.tenant:
        raise NotFound(f"no approval {approval_id}")
    call.subject = approval
    call.resource = {
        "kind": "approval",
        "id": approval.id,
        "requested_by": approval.requested_by,
        "approver_role": approval.approver_role,
        "approver_user": approval.approver_user,
        "status": effective_status(approval, service.now()),
        "subject": approval.subject,
    }
    call.audit(approval_id=approval.id, subject=approval.subject)


async def _get(service: Service, call: ControlCall) -> Reply:
    return Reply(200, approval_view(call.subject, service.now()))


async def _queue(service: Service, call: ControlCall) -> None:
    call.resource = {"kind": "approval_queue"}


async def _list(service: Service, call: ControlCall) -> Reply:
    query: ApprovalList = call.request
    user_id = call.caller.user_id if call.caller else None
    found = await service.use(
        lambda s: s.approvals_for(
            call.principal.tenant, call.roles, user_id, query.status, query.after, query.limit
        )
    )
    now = service.now()
    views = [approval_view(a, now) for a in found]
    cursor = page(views, query.limit)["next_after"]
    # Pending past its time is expired, even before the sweeper wrote it down.
    items = [v for v in views if v["status"] == query.status]
    return Reply(200, {"items": items, "next_after": cursor})


async def _decide(service: Service, call: ControlCall, status: ApprovalStatus) -> Reply:
    approval: Approval = call.subject
    request: ApprovalDecision = call.request
    now = service.now()
    decided = await service.use(
        lambda s: s.decide_approval(approval.id, status, call.principal.sub, request.comment, now)
    )
    if decided is None:
        current = await service.use(lambda s: s.get_approval(approval.id))
        if current is not None and current.status == "pending":  # its time is up
            await service.use(lambda s: s.expire_approvals(now))
            raise Conflict(
                f"approval {approval.id} has expired", reason="approval_expired", current="expired"
            )
        state = current.status if current else "deleted"
        raise Conflict(f"approval {approval.id} is already {state}", reason="already_decided", current=state)
    call.audit(status=decided.status)
    return Reply(200, approval_view(decided, now))


async def _approve(service: Service, call: ControlCall) -> Reply:
    return await _decide(service, call, "approved")


async def _reject(service: Service, call: ControlCall) -> Reply:
    return await _decide(service, call, "rejected")


OPERATIONS = (
    Operation(
        "approvals.request", "POST", "/api/v1/approvals", "approval.request",
        "request an approval (for a task, or any subject)",
        _request, _load_request, body=ApprovalCreate, idempotent=True, success=201, tags=_TAGS,
    ),
    Operation(
        "approvals.list", "GET", "/api/v1/approvals", "approval.read",
        "approvals waiting for the caller (its person in the org chart, or its roles)",
        _list, _queue, query=ApprovalList, tags=_TAGS,
    ),
    Operation(
        "approvals.get", "GET", "/api/v1/approvals/{approval_id}", "approval.read", "read an approval",
        _get, load_approval, tags=_TAGS,
    ),
    Operation(
        "approvals.approve", "POST", "/api/v1/approvals/{approval_id}/approve", "approval.decide",
        "approve (compare-and-set: exactly one decision wins)",
        _approve, load_approval, body=ApprovalDecision, tags=_TAGS,
    ),
    Operation(
        "approvals.reject", "POST", "/api/v1/approvals/{approval_id}/reject", "approval.decide",
        "reject (compare-and-set: exactly one decision wins)",
        _reject, load_approval, body=ApprovalDecision, tags=_TAGS,
    ),
)  # fmt: skip
