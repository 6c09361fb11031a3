"""Controller state (tasks, approvals, sessions) behind one store interface.

Two stores implement ``ControllerStore``: SQLite (``controller_sqlite.py``, the embedded
default) and Postgres (``controller_pg.py``, in the same schema and migrations as the audit
log). One contract test suite runs against both, so the controller API behaves the same on
either.

State changes that race (two approvers deciding at once, two workers finishing one task)
are compare-and-set: ``decide_approval``, ``redeem_approval`` and ``set_task_status`` change a
row only from the status the caller expects and return None when someone else got there first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

TaskStatus = Literal["pending", "in_progress", "done", "failed", "cancelled"]
# approved -> used: an approved call is carried out once (``redeem_approval``).
ApprovalStatus = Literal["pending", "approved", "rejected", "expired", "used"]


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


@dataclass(frozen=True, slots=True)
class Approval:
    id: str
    tenant: str
    requested_by: str
    approver_role: str
    subject: str  # what needs approving, e.g. the tool "github__merge_pr"
    payload: dict[str, Any]
    status: ApprovalStatus
    decided_by: str | None
    note: str | None
    created_at: float
    decided_at: float | None


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    tenant: str
    sub: str
    data: dict[str, Any]
    created_at: float
    expires_at: float


class ControllerStore(Protocol):
    async def open(self) -> None: ...
    async def close(self) -> None: ...

    async def add_task(self, task: Task) -> None: ...
    async def get_task(self, task_id: str) -> Task | None: ...
    async def inbox(self, tenant: str, role: str, status: TaskStatus, limit: int) -> list[Task]: ...
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
    async def decide_approval(
        self, approval_id: str, status: ApprovalStatus, decided_by: str, note: str | None, now: float
    ) -> Approval | None: ...
    async def redeem_approval(self, approval_id: str) -> Approval | None:
        """approved -> used, once: the approval's one use; None when not approved (or used)."""
        ...

    async def put_session(self, session: Session) -> None: ...
    async def get_session(self, session_id: str, now: float) -> Session | None: ...
    async def delete_session(self, session_id: str) -> None: ...
    async def purge_sessions(self, now: float) -> int: ...


class ControllerStoreError(Exception):
    """The controller store cannot be opened (unreachable, wrong schema version)."""
