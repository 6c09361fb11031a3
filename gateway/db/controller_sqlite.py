"""The SQLite ``ControllerStore`` (embedded default): one file, one dedicated thread.

The tables mirror migration 0002 (JSON as text); the file's ``PRAGMA user_version`` is its
schema version. Compare-and-set updates are single ``UPDATE ... WHERE status = ?``
statements, atomic in SQLite as in Postgres.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields
from pathlib import Path
from typing import Any, TypeVar

import orjson

from gateway.db.controller import Approval, ApprovalStatus, ControllerStoreError, Session, Task, TaskStatus

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE controller_tasks (
    id TEXT PRIMARY KEY, tenant TEXT NOT NULL, created_by TEXT NOT NULL, to_role TEXT NOT NULL,
    title TEXT NOT NULL, payload TEXT NOT NULL, status TEXT NOT NULL, result TEXT,
    created_at REAL NOT NULL, updated_at REAL NOT NULL
);
CREATE INDEX controller_tasks_inbox ON controller_tasks (tenant, to_role, status, created_at);
CREATE TABLE controller_approvals (
    id TEXT PRIMARY KEY, tenant TEXT NOT NULL, requested_by TEXT NOT NULL, approver_role TEXT NOT NULL,
    subject TEXT NOT NULL, payload TEXT NOT NULL, status TEXT NOT NULL, decided_by TEXT, note TEXT,
    created_at REAL NOT NULL, decided_at REAL
);
CREATE INDEX controller_approvals_pending ON controller_approvals (tenant, approver_role, status, created_at);
CREATE TABLE controller_sessions (
    id TEXT PRIMARY KEY, tenant TEXT NOT NULL, sub TEXT NOT NULL, data TEXT NOT NULL,
    created_at REAL NOT NULL, expires_at REAL NOT NULL
);
CREATE INDEX controller_sessions_expiry ON controller_sessions (expires_at);
"""
_JSON = frozenset({"payload", "result", "data"})
R = TypeVar("R", Task, Approval, Session)
T = TypeVar("T")


def _columns(record_type: type) -> list[str]:
    return [f.name for f in fields(record_type)]


def _row(record: Task | Approval | Session) -> tuple[Any, ...]:
    values = (getattr(record, name) for name in _columns(type(record)))
    return tuple(
        orjson.dumps(v).decode() if n in _JSON and v is not None else v
        for n, v in zip(_columns(type(record)), values, strict=True)
    )


def _record(record_type: type[R], row: sqlite3.Row | None) -> R | None:
    if row is None:
        return None
    # sqlite3.Row iterates over values, not names: .keys() is needed here.
    names = row.keys()
    values = {k: orjson.loads(row[k]) if k in _JSON and row[k] is not None else row[k] for k in names}
    return record_type(**values)


class SqliteControllerStore:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="skein-controller-sqlite")
        self._conn: sqlite3.Connection | None = None

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        def call() -> T:
            if self._conn is None:
                raise ControllerStoreError("the controller store is not open")
            return fn(self._conn)

        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    async def open(self) -> None:
        if self._conn is None:
            await asyncio.get_running_loop().run_in_executor(self._executor, self._open_sync)

    def _open_sync(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self._path, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA busy_timeout=5000")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            conn.close()
            raise ControllerStoreError(
                f"{self._path}: controller schema v{version} is newer than this gateway"
            )
        if version == 0:
            conn.executescript(f"BEGIN; {_SCHEMA} PRAGMA user_version={SCHEMA_VERSION}; COMMIT;")
        self._conn = conn

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await asyncio.get_running_loop().run_in_executor(self._executor, conn.close)
        self._executor.shutdown(wait=True)

    async def _insert(self, table: str, record: Task | Approval | Session, upsert: str = "") -> None:
        names = _columns(type(record))
        sql = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))}){upsert}"
        await self._run(lambda c: c.execute(sql, _row(record)))

    async def _one(self, record_type: type[R], sql: str, *args: Any) -> R | None:
        return _record(record_type, await self._run(lambda c: c.execute(sql, args).fetchone()))

    async def _many(self, record_type: type[R], sql: str, *args: Any) -> list[R]:
        rows = await self._run(lambda c: c.execute(sql, args).fetchall())
        return [r for r in (_record(record_type, row) for row in rows) if r is not None]

    # -- tasks --------------------------------------------------------------------------------

    async def add_task(self, task: Task) -> None:
        await self._insert("controller_tasks", task)

    async def get_task(self, task_id: str) -> Task | None:
        return await self._one(Task, "SELECT * FROM controller_tasks WHERE id = ?", task_id)

    async def inbox(self, tenant: str, role: str, status: TaskStatus, limit: int) -> list[Task]:
        sql = (
            "SELECT * FROM controller_tasks WHERE tenant = ? AND to_role = ? AND status = ?"
            " ORDER BY created_at, id LIMIT ?"
        )
        return await self._many(Task, sql, tenant, role, status, limit)

    async def set_task_status(
        self,
        task_id: str,
        expected: TaskStatus,
        status: TaskStatus,
        now: float,
        result: dict[str, Any] | None = None,
    ) -> Task | None:
        encoded = orjson.dumps(result).decode() if result is not None else None
        sql = (
            "UPDATE controller_tasks SET status = ?, updated_at = ?, result = coalesce(?, result)"
            " WHERE id = ? AND status = ? RETURNING *"
        )
        return await self._one(Task, sql, status, now, encoded, task_id, expected)

    # -- approvals ----------------------------------------------------------------------------

    async def add_approval(self, approval: Approval) -> None:
        await self._insert("controller_approvals", approval)

    async def get_approval(self, approval_id: str) -> Approval | None:
        return await self._one(Approval, "SELECT * FROM controller_approvals WHERE id = ?", approval_id)

    async def pending_approvals(self, tenant: str, approver_role: str, limit: int) -> list[Approval]:
        sql = (
            "SELECT * FROM controller_approvals WHERE tenant = ? AND approver_role = ? AND status = 'pending'"
            " ORDER BY created_at, id LIMIT ?"
        )
        return await self._many(Approval, sql, tenant, approver_role, limit)

    async def decide_approval(
        self, approval_id: str, status: ApprovalStatus, decided_by: str, note: str | None, now: float
    ) -> Approval | None:
        sql = (
            "UPDATE controller_approvals SET status = ?, decided_by = ?, note = ?, decided_at = ?"
            " WHERE id = ? AND status = 'pending' RETURNING *"
        )
        return await self._one(Approval, sql, status, decided_by, note, now, approval_id)

    async def redeem_approval(self, approval_id: str) -> Approval | None:
        sql = "UPDATE controller_approvals SET status = 'used' WHERE id = ? AND status = 'approved' RETURNING *"
        return await self._one(Approval, sql, approval_id)

    # -- sessions -----------------------------------------------------------------------------

    async def put_session(self, session: Session) -> None:
        upsert = " ON CONFLICT (id) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at"
        await self._insert("controller_sessions", session, upsert)

    async def get_session(self, session_id: str, now: float) -> Session | None:
        sql = "SELECT * FROM controller_sessions WHERE id = ? AND expires_at > ?"
        return await self._one(Session, sql, session_id, now)

    async def delete_session(self, session_id: str) -> None:
        await self._run(lambda c: c.execute("DELETE FROM controller_sessions WHERE id = ?", (session_id,)))

    async def purge_sessions(self, now: float) -> int:
        cursor = await self._run(
            lambda c: c.execute("DELETE FROM controller_sessions WHERE expires_at <= ?", (now,))
        )
        return int(cursor.rowcount)
