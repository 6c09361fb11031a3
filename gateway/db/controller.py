"""Controller state (tasks, approvals, sessions, the org chart, notifications) behind one store.

Two stores implement ``ControllerStore``: SQLite (``controller_sqlite.py``, the embedded
default) and Postgres (``controller_pg.py``, in the same schema and migrations as the audit
log). One contract test suite runs against both, so the controller API behaves the same on
either.

State changes that race (two approvers deciding at once, two workers finishing one task, two
clients moving one session) are compare-and-set: ``decide_approval``, ``redeem_approval``,
``set_task_status`` and ``set_session_state`` change a row only from the status the caller
expects and return None when someone else got there first.

Lists page by id: ``after`` is the id of the last record of the previous page (records are
ordered by creation time, then id), so a page never repeats or skips a record that was
created while a client paged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

TaskStatus = Literal["pending", "in_progress", "done", "failed", "cancelled"]
# approved -> used: an approved call is carried out once (``redeem_approval``).
ApprovalStatus = Literal["pending", "approved", "rejected", "expired", "used"]
SessionState = Literal["pending", "active", "paused", "completed", "failed", "expired"]
Priority = Literal["low", "normal", "high", "urgent"]


@dataclass(frozen=True, slots=True)
class Task:
    id: str
    tenant: str
    created_by: str
    to_role: str
    title: str
    payload: dict[str, Any]
    status: TaskStatus
    result: dict[str, Any] | None
    created_at: float
    updated_at: float
    task_type: str = "task"


@dataclass(frozen=True, slots=True)
class Approval:
    id: str
    tenant: str
    requested_by: str
    approver_role: str
    subject: str  # what needs approving, e.g. the tool "github__merge_pr" or "task:<id>"
    payload: dict[str, Any]
    status: ApprovalStatus
    decided_by: str | None
    note: str | None
    created_at: float
    decided_at: float | None
    task_id: str | None = None  # the task it is about, if any
    approver_user: str | None = None  # an org-chart user_id: only that person decides
    expires_at: float | None = None  # still pending then: expired (None: never)


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    tenant: str
    sub: str
    data: dict[str, Any]
    created_at: float
    expires_at: float
    state: SessionState = "pending"
    updated_at: float = 0.0


@dataclass(frozen=True, slots=True)
class Person:
    """One row of the org chart."""

    tenant: str
    user_id: str
    reports_to: str | None
    name: str
    role: str
    email: str
    department: str


@dataclass(frozen=True, slots=True)
class Notification:
    id: str
    tenant: str
    sender: str
    target_role: str
    message: str
    priority: Priority
    created_at: float


@dataclass(frozen=True, slots=True)
class TaskQuery:
    """Which tasks to list. ``to_roles`` and ``created_by`` both set: tasks matching either
    (a caller's own tasks: addressed to one of its roles, or sent by it)."""

    tenant: str
    to_roles: tuple[str, ...] | None = None
    created_by: str | None = None
    status: TaskStatus | None = None
    task_type: str | None = None
    after: str | None = None
    limit: int = 50


class ControllerStore(Protocol):
    async def open(self) -> None: ...
    async def close(self) -> None: ...

    async def add_task(self, task: Task) -> None: ...
    async def get_task(self, task_id: str) -> Task | None: ...
    async def inbox(self, tenant: str, role: str, status: TaskStatus, limit: int) -> list[Task]: ...
    async def list_tasks(self, query: TaskQuery) -> list[Task]: ...
    async def set_task_status(
        self,
        task_id: str,
        expected: TaskStatus,
        status: TaskStatus,
        now: float,
        result: dict[str, Any] | None = None,
    ) -> Task | None: ...

    async def add_approval(self, approval: Approval) -> None: ...
    async def get_approval(self, approval_id: str) -> Approval | None: ...
    async def pending_approvals(self, tenant: str, approver_role: str, limit: int) -> list[Approval]: ...
    async def approvals_for(
        self,
        tenant: str,
        roles: Sequence[str],
        user_id: str | None,
        status: ApprovalStatus,
        after: str | None,
        limit: int,
    ) -> list[Approval]:
        """Approvals this approver may decide: assigned to ``user_id``, or to one of ``roles``
        when assigned to no one in particular."""
        ...

    async def task_approvals(self, task_id: str) -> list[Approval]:
        """The approvals requested for a task, oldest first."""
        ...

    async def decide_approval(
        self, approval_id: str, status: ApprovalStatus, decided_by: str, note: str | None, now: float
    ) -> Approval | None:
        """pending -> approved/rejected, once, and only before it expires."""
        ...

    async def redeem_approval(self, approval_id: str) -> Approval | None:
        """approved -> used, once: the approval's one use; None when not approved (or used)."""
        ...

    async def expire_approvals(self, now: float) -> int:
        """pending -> expired for every approval whose time is up; how many."""
        ...

    async def put_session(self, session: Session) -> None: ...
    async def get_session(self, session_id: str, now: float) -> Session | None: ...
    async def find_session(self, session_id: str) -> Session | None:
        """The session whatever its state or expiry (``get_session`` hides expired ones)."""
        ...

    async def set_session_state(
        self, session_id: str, expected: SessionState, state: SessionState, now: float
    ) -> Session | None: ...
    async def expire_sessions(self, now: float) -> int:
        """Every session past its time and not final -> expired; how many."""
        ...

    async def delete_session(self, session_id: str) -> None: ...
    async def purge_sessions(self, now: float) -> int: ...

    async def replace_people(self, tenant: str, people: Sequence[Person]) -> int:
        """The tenant's org chart becomes exactly ``people``, atomically."""
        ...

    async def get_person(self, tenant: str, user_id: str) -> Person | None: ...
    async def person_by_email(self, tenant: str, email: str) -> Person | None:
        """Matched case-insensitively."""
        ...

    async def add_notification(self, notification: Notification) -> None: ...
    async def notifications_for(
        self, tenant: str, roles: Sequence[str], after: str | None, limit: int
    ) -> list[Notification]: ...


class ControllerStoreError(Exception):
    """The controller store cannot be opened (unreachable, wrong schema version)."""
