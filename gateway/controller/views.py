"""What the controller answers: records as JSON objects (times in unix seconds).

An approval shows its effective status: a pending approval past its time is ``expired``
even before the sweeper has written that down.
"""

from __future__ import annotations

from typing import Any

from gateway.db.controller import Approval, Notification, Person, Session, Task

API = "/api/v1"


def task_view(task: Task) -> dict[str, Any]:
    return {
        "id": task.id,
        "task_type": task.task_type,
        "title": task.title,
        "to_role": task.to_role,
        "created_by": task.created_by,
        "status": task.status,
        "payload": task.payload,
        "result": task.result,
        "created_at": task.created_at,
        "updated_at": task.updated_at,
        "links": {"self": f"{API}/tasks/{task.id}", "status": f"{API}/tasks/{task.id}/status"},
    }


def effective_status(approval: Approval, now: float) -> str:
    expired = approval.expires_at is not None and approval.expires_at <= now
    return "expired" if approval.status == "pending" and expired else approval.status


def approval_view(approval: Approval, now: float) -> dict[str, Any]:
    link = f"{API}/approvals/{approval.id}"
    return {
        "id": approval.id,
        "status": effective_status(approval, now),
        "subject": approval.subject,
        "task_id": approval.task_id,
        "requested_by": approval.requested_by,
        "approver_role": approval.approver_role,
        "approver_user": approval.approver_user,
        "payload": approval.payload,
        "decided_by": approval.decided_by,
        "comment": approval.note,
        "created_at": approval.created_at,
        "decided_at": approval.decided_at,
        "expires_at": approval.expires_at,
        "links": {"self": link, "approve": f"{link}/approve", "reject": f"{link}/reject"},
    }


def session_view(session: Session) -> dict[str, Any]:
    return {
        "id": session.id,
        "sub": session.sub,
        "state": session.state,
        "data": session.data,
        "created_at": session.created_at,
        "updated_at": session.updated_at,
        "expires_at": session.expires_at,
    }


def notification_view(notification: Notification) -> dict[str, Any]:
    return {
        "id": notification.id,
        "sender": notification.sender,
        "target_role": notification.target_role,
        "message": notification.message,
        "priority": notification.priority,
        "created_at": notification.created_at,
    }


def person_view(person: Person) -> dict[str, Any]:
    return {
        "user_id": person.user_id,
        "reports_to": person.reports_to,
        "name": person.name,
        "role": person.role,
        "email": person.email,
        "department": person.department,
    }


def page(items: list[dict[str, Any]], limit: int) -> dict[str, Any]:
    """A page of records and the cursor for the next one (None: this was the last)."""
    return {"items": items, "next_after": items[-1]["id"] if len(items) == limit else None}
