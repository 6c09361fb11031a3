"""The SQLite ``ControllerStore`` (embedded default): one file, one dedicated thread.

The tables mirror migrations 0002 and 0003 (JSON as text); the file's ``PRAGMA user_version``
is its schema version, and a version-1 file is upgraded in place on open. Compare-and-set
updates are single ``UPDATE ... WHERE status = ?`` statements, atomic in SQLite as in Postgres.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields
from pathlib import Path
from typing import Any, TypeVar

import orjson

from gateway.db.controller import (
    Approval,
    ApprovalStatus,
    ControllerStoreError,
    Notification,
    Person,
    Session,
    SessionState,
    Task,
    TaskQuery,
    TaskStatus,
)

SCHEMA_VERSION = 2
_SCHEMA_V1 = """
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
# Version 2: what migration 0003 adds on Postgres.
_UPGRADE_V2 = """
ALTER TABLE controller_tasks ADD COLUMN task_type TEXT NOT NULL DEFAULT 'task';
CREATE INDEX controller_tasks_sender ON controller_tasks (tenant, created_by, created_at);
ALTER TABLE controller_approvals ADD COLUMN task_id TEXT;
ALTER TABLE controller_approvals ADD COLUMN approver_user TEXT;
ALTER TABLE controller_approvals ADD COLUMN expires_at REAL;
CREATE INDEX controller_approvals_task ON controller_approvals (task_id);
CREATE INDEX controller_approvals_user ON controller_approvals (tenant, approver_user, status, created_at);
ALTER TABLE controller_sessions ADD COLUMN state TEXT NOT NULL DEFAULT 'pending';
ALTER TABLE controller_sessions ADD COLUMN updated_at REAL NOT NULL DEFAULT 0;
CREATE TABLE controller_people (
    tenant TEXT NOT NULL, user_id TEXT NOT NULL, reports_to TEXT, name TEXT NOT NULL,
    role TEXT NOT NULL, email TEXT NOT NULL, department TEXT NOT NULL,
    PRIMARY KEY (tenant, user_id)
);
CREATE INDEX controller_people_email ON controller_people (tenant, lower(email));
CREATE TABLE controller_notifications (
    id TEXT PRIMARY KEY, tenant TEXT NOT NULL, sender TEXT NOT NULL, target_role TEXT NOT NULL,
    message TEXT NOT NULL, priority TEXT NOT NULL, created_at REAL NOT NULL
);
CREATE INDEX controller_notifications_inbox ON controller_notifications (tenant, target_role, created_at);
"""
_OPEN_SESSION = "('pending', 'active', 'paused')"
_JSON = frozenset({"payload", "result", "data"})
Record = Task | Approval | Session | Person | Notification
R = TypeVar("R", Task, Approval, Session, Person, Notification)
T = TypeVar("T")


def _columns(record_type: type) -> list[str]:
    return [f.name for f in fields(record_type)]


def _row(record: Record) -> tuple[Any, ...]:
    names = _columns(type(record))
    return tuple(
        orjson.dumps(v).decode() if n in _JSON and v is not None else v
        for n, v in ((n, getattr(record, n)) for n in names)
    )


def _record(record_type: type[R], row: sqlite3.Row | None) -> R | None:
    if row is None:
        return None
    # sqlite3.Row iterates over values, not names: .keys() is needed here.
    names = row.keys()
    values = {k: orjson.loads(row[k]) if k in _JSON and row[k] is not None else row[k] for k in names}
    return record_type(**values)


def _marks(values: Sequence[object]) -> str:
    return ", ".join("?" * len(values))


def _after(table: str) -> str:
    """Keyset paging: rows after the row with id ``?`` in (created_at, id) order."""
    return f" AND (created_at, id) > (SELECT created_at, id FROM {table} WHERE id = ?)"


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
        steps = {0: _SCHEMA_V1 + _UPGRADE_V2, 1: _UPGRADE_V2}.get(version)
        if steps is not None:
            conn.executescript(f"BEGIN; {steps} PRAGMA user_version={SCHEMA_VERSION}; COMMIT;")
        self._conn = conn

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await asyncio.get_running_loop().run_in_executor(self._executor, conn.close)
        self._executor.shutdown(wait=True)

    async def _insert(self, table: str, record: Record, upsert: str = "") -> None:
        names = _columns(type(record))
        sql = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({_marks(names)}){upsert}"
        await self._run(lambda c: c.execute(sql, _row(record)))

    async def _one(self, record_type: type[R], sql: str, *args: Any) -> R | None:
        return _record(record_type, await self._run(lambda c: c.execute(sql, args).fetchone()))

    async def _many(self, record_type: type[R], sql: str, *args: Any) -> list[R]:
        rows = await self._run(lambda c: c.execute(sql, args).fetchall())
        return [r for r in (_record(record_type, row) for row in rows) if r is not None]

    async def _count(self, sql: str, *args: Any) -> int:
        cursor = await self._run(lambda c: c.execute(sql, args))
        return int(cursor.rowcount)

    # -- tasks --------------------------------------------------------------------------------

    async def add_task(self, task: Task) -> None:
        await self._insert("controller_tasks", task)

    async def get_task(self, task_id: str) -> Task | None:
        return await self._one(Task, "SELECT * FROM controller_tasks WHERE id = ?", task_id)

    async def inbox(self, tenant: str, role: str, status: TaskStatus, limit: int) -> list[Task]:
        query = TaskQuery(tenant=tenant, to_roles=(role,), status=status, limit=limit)
        return await self.list_tasks(query)

    async def list_tasks(self, query: TaskQuery) -> list[Task]:
        sql, args = "SELECT * FROM controller_tasks WHERE tenant = ?", [query.tenant]
        who: list[str] = []
        if query.to_roles is not None:
            who.append(f"to_role IN ({_marks(query.to_roles) or 'NULL'})")
            args.extend(query.to_roles)
        if query.created_by is not None:
            who.append("created_by = ?")
            args.append(query.created_by)
        if who:
            sql += f" AND ({' OR '.join(who)})"
        for column in ("status", "task_type"):
            value = getattr(query, column)
            if value is not None:
                sql += f" AND {column} = ?"
                args.append(value)
        if query.after is not None:
            sql += _after("controller_tasks")
            args.append(query.after)
        sql += " ORDER BY created_at, id LIMIT ?"
        return await self._many(Task, sql, *args, query.limit)

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

    async def approvals_for(
        self,
        tenant: str,
        roles: Sequence[str],
        user_id: str | None,
        status: ApprovalStatus,
        after: str | None,
        limit: int,
    ) -> list[Approval]:
        sql = (
            "SELECT * FROM controller_approvals WHERE tenant = ? AND status = ? AND (approver_user = ?"
            f" OR (approver_user IS NULL AND approver_role IN ({_marks(roles) or 'NULL'})))"
        )
        args: list[Any] = [tenant, status, user_id, *roles]
        if after is not None:
            sql += _after("controller_approvals")
            args.append(after)
        return await self._many(Approval, sql + " ORDER BY created_at, id LIMIT ?", *args, limit)

    async def task_approvals(self, task_id: str) -> list[Approval]:
        sql = "SELECT * FROM controller_approvals WHERE task_id = ? ORDER BY created_at, id"
        return await self._many(Approval, sql, task_id)

    async def decide_approval(
        self, approval_id: str, status: ApprovalStatus, decided_by: str, note: str | None, now: float
    ) -> Approval | None:
        sql = (
            "UPDATE controller_approvals SET status = ?, decided_by = ?, note = ?, decided_at = ?"
            " WHERE id = ? AND status = 'pending' AND (expires_at IS NULL OR expires_at > ?) RETURNING *"
        )
        return await self._one(Approval, sql, status, decided_by, note, now, approval_id, now)

    async def redeem_approval(self, approval_id: str) -> Approval | None:
        sql = "UPDATE controller_approvals SET status = 'used' WHERE id = ? AND status = 'approved'"
        sql += " RETURNING *"
        return await self._one(Approval, sql, approval_id)

    async def expire_approvals(self, now: float) -> int:
        return await self._count(
            "UPDATE controller_approvals SET status = 'expired'"
            " WHERE status = 'pending' AND expires_at IS NOT NULL AND expires_at <= ?",
            now,
        )

    # -- sessions -----------------------------------------------------------------------------

    async def put_session(self, session: Session) -> None:
        upsert = " ON CONFLICT (id) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at"
        await self._insert("controller_sessions", session, upsert)

    async def get_session(self, session_id: str, now: float) -> Session | None:
        sql = "SELECT * FROM controller_sessions WHERE id = ? AND expires_at > ?"
        return await self._one(Session, sql, session_id, now)

    async def find_session(self, session_id: str) -> Session | None:
        return await self._one(Session, "SELECT * FROM controller_sessions WHERE id = ?", session_id)

    async def set_session_state(
        self, session_id: str, expected: SessionState, state: SessionState, now: float
    ) -> Session | None:
        sql = (
            "UPDATE controller_sessions SET state = ?, updated_at = ? WHERE id = ? AND state = ? RETURNING *"
        )
        return await self._one(Session, sql, state, now, session_id, expected)

    async def expire_sessions(self, now: float) -> int:
        return await self._count(
            "UPDATE controller_sessions SET state = 'expired', updated_at = ?"
            f" WHERE expires_at <= ? AND state IN {_OPEN_SESSION}",
            now,
            now,
        )

    async def delete_session(self, session_id: str) -> None:
        await self._run(lambda c: c.execute("DELETE FROM controller_sessions WHERE id = ?", (session_id,)))

    async def purge_sessions(self, now: float) -> int:
        return await self._count("DELETE FROM controller_sessions WHERE expires_at <= ?", now)

    # -- the org chart ------------------------------------------------------------------------

    async def replace_people(self, tenant: str, people: Sequence[Person]) -> int:
        names = _columns(Person)
        insert = f"INSERT INTO controller_people ({', '.join(names)}) VALUES ({_marks(names)})"

        def replace(conn: sqlite3.Connection) -> int:
            with conn:  # one transaction: readers see the old chart or the new one
                conn.execute("BEGIN")
                conn.execute("DELETE FROM controller_people WHERE tenant = ?", (tenant,))
                conn.executemany(insert, [_row(p) for p in people])
            return len(people)

        return await self._run(replace)

    async def get_person(self, tenant: str, user_id: str) -> Person | None:
        sql = "SELECT * FROM controller_people WHERE tenant = ? AND user_id = ?"
        return await self._one(Person, sql, tenant, user_id)

    async def person_by_email(self, tenant: str, email: str) -> Person | None:
        sql = "SELECT * FROM controller_people WHERE tenant = ? AND lower(email) = lower(?) ORDER BY user_id"
        return await self._one(Person, sql + " LIMIT 1", tenant, email)

    # -- notifications ------------------------------------------------------------------------

    async def add_notification(self, notification: Notification) -> None:
        await self._insert("controller_notifications", notification)

    async def notifications_for(
        self, tenant: str, roles: Sequence[str], after: str | None, limit: int
    ) -> list[Notification]:
        sql = "SELECT * FROM controller_notifications WHERE tenant = ?"
        sql += f" AND target_role IN ({_marks(roles) or 'NULL'})"
        args: list[Any] = [tenant, *roles]
        if after is not None:
            sql += _after("controller_notifications")
            args.append(after)
        return await self._many(Notification, sql + " ORDER BY created_at, id LIMIT ?", *args, limit)
