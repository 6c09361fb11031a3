"""The Postgres ``ControllerStore``: tables from migrations 0002 and 0003, one asyncpg pool."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from typing import Any, TypeVar

import asyncpg
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
from gateway.db.migrate import SchemaError, check_schema, connect

Record = Task | Approval | Session | Person | Notification
R = TypeVar("R", Task, Approval, Session, Person, Notification)


def _columns(record_type: type) -> str:
    return ", ".join(f.name for f in fields(record_type))


def _insert(table: str, record_type: type) -> str:
    marks = ", ".join(f"${i}" for i in range(1, len(fields(record_type)) + 1))
    return f"INSERT INTO {table} ({_columns(record_type)}) VALUES ({marks})"


def _after(table: str, mark: int) -> str:
    """Keyset paging: rows after the row with id ``$mark`` in (created_at, id) order."""
    return f" AND (created_at, id) > (SELECT created_at, id FROM {table} WHERE id = ${mark})"


_TASK_COLUMNS = _columns(Task)
_APPROVAL_COLUMNS = _columns(Approval)
_SESSION_COLUMNS = _columns(Session)
_PERSON_COLUMNS = _columns(Person)
_NOTIFICATION_COLUMNS = _columns(Notification)
_OPEN_SESSION = "('pending', 'active', 'paused')"


async def _json_codec(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec(
        "jsonb", encoder=lambda v: orjson.dumps(v).decode(), decoder=orjson.loads, schema="pg_catalog"
    )


def _build(record_type: type[R], row: asyncpg.Record | None) -> R | None:
    return record_type(**dict(row)) if row else None


class PostgresControllerStore:
    def __init__(self, dsn: str, schema: str, *, max_size: int = 5, timeout: float = 5.0) -> None:
        self._dsn, self._schema = dsn, schema
        self._max_size, self._timeout = max_size, timeout
        self._pool: asyncpg.Pool | None = None

    async def open(self) -> None:
        if self._pool is not None:
            return
        try:
            conn = await connect(self._dsn, self._schema, timeout=self._timeout)  # validates the name
            try:
                await check_schema(conn, self._schema)
            finally:
                await conn.close()
            self._pool = await asyncpg.create_pool(
                self._dsn,
                min_size=1,
                max_size=self._max_size,
                timeout=self._timeout,
                command_timeout=self._timeout,
                server_settings={"search_path": self._schema},
                init=_json_codec,
            )
        except (OSError, TimeoutError, asyncpg.PostgresError, SchemaError) as exc:
            raise ControllerStoreError(f"cannot open the Postgres controller store: {exc}") from exc

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    @property
    def _db(self) -> asyncpg.Pool:
        if self._pool is None:
            raise ControllerStoreError("the controller store is not open")
        return self._pool

    async def _one(self, record_type: type[R], sql: str, *args: Any) -> R | None:
        return _build(record_type, await self._db.fetchrow(sql, *args))

    async def _many(self, record_type: type[R], sql: str, *args: Any) -> list[R]:
        return [record_type(**dict(row)) for row in await self._db.fetch(sql, *args)]

    async def _count(self, sql: str, *args: Any) -> int:
        status = await self._db.execute(sql, *args)
        return int(status.split()[-1])

    # -- tasks --------------------------------------------------------------------------------

    async def add_task(self, task: Task) -> None:
        await self._db.execute(_insert("controller_tasks", Task), *_values(task))

    async def get_task(self, task_id: str) -> Task | None:
        return await self._one(Task, f"SELECT {_TASK_COLUMNS} FROM controller_tasks WHERE id = $1", task_id)

    async def inbox(self, tenant: str, role: str, status: TaskStatus, limit: int) -> list[Task]:
        return await self.list_tasks(TaskQuery(tenant=tenant, to_roles=(role,), status=status, limit=limit))

    async def list_tasks(self, query: TaskQuery) -> list[Task]:
        args: list[Any] = [query.tenant]

        def mark(value: Any) -> str:
            args.append(value)
            return f"${len(args)}"

        sql = f"SELECT {_TASK_COLUMNS} FROM controller_tasks WHERE tenant = $1"
        who = []
        if query.to_roles is not None:
            who.append(f"to_role = ANY({mark(list(query.to_roles))}::text[])")
        if query.created_by is not None:
            who.append(f"created_by = {mark(query.created_by)}")
        if who:
            sql += f" AND ({' OR '.join(who)})"
        if query.status is not None:
            sql += f" AND status = {mark(query.status)}"
        if query.task_type is not None:
            sql += f" AND task_type = {mark(query.task_type)}"
        if query.after is not None:
            mark(query.after)
            sql += _after("controller_tasks", len(args))
        sql += f" ORDER BY created_at, id LIMIT {mark(query.limit)}"
        return await self._many(Task, sql, *args)

    async def set_task_status(
        self,
        task_id: str,
        expected: TaskStatus,
        status: TaskStatus,
        now: float,
        result: dict[str, Any] | None = None,
    ) -> Task | None:
        return await self._one(
            Task,
            "UPDATE controller_tasks SET status = $3, updated_at = $4, result = coalesce($5, result)"
            f" WHERE id = $1 AND status = $2 RETURNING {_TASK_COLUMNS}",
            task_id,
            expected,
            status,
            now,
            result,
        )

    # -- approvals ----------------------------------------------------------------------------

    async def add_approval(self, approval: Approval) -> None:
        await self._db.execute(_insert("controller_approvals", Approval), *_values(approval))

    async def get_approval(self, approval_id: str) -> Approval | None:
        query = f"SELECT {_APPROVAL_COLUMNS} FROM controller_approvals WHERE id = $1"
        return await self._one(Approval, query, approval_id)

    async def redeem_approval(self, approval_id: str) -> Approval | None:
        return await self._one(
            Approval,
            "UPDATE controller_approvals SET status = 'used'"
            f" WHERE id = $1 AND status = 'approved' RETURNING {_APPROVAL_COLUMNS}",
            approval_id,
        )

    async def pending_approvals(self, tenant: str, approver_role: str, limit: int) -> list[Approval]:
        return await self._many(
            Approval,
            f"SELECT {_APPROVAL_COLUMNS} FROM controller_approvals"
            " WHERE tenant = $1 AND approver_role = $2 AND status = 'pending'"
            " ORDER BY created_at, id LIMIT $3",
            tenant,
            approver_role,
            limit,
        )

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
            f"SELECT {_APPROVAL_COLUMNS} FROM controller_approvals WHERE tenant = $1 AND status = $2"
            " AND (approver_user = $3 OR (approver_user IS NULL AND approver_role = ANY($4::text[])))"
        )
        args: list[Any] = [tenant, status, user_id, list(roles), limit]
        if after is not None:
            args.append(after)
            sql += _after("controller_approvals", 6)
        return await self._many(Approval, sql + " ORDER BY created_at, id LIMIT $5", *args)

    async def task_approvals(self, task_id: str) -> list[Approval]:
        sql = (
            f"SELECT {_APPROVAL_COLUMNS} FROM controller_approvals WHERE task_id = $1 ORDER BY created_at, id"
        )
        return await self._many(Approval, sql, task_id)

    async def decide_approval(
        self, approval_id: str, status: ApprovalStatus, decided_by: str, note: str | None, now: float
    ) -> Approval | None:
        return await self._one(
            Approval,
            "UPDATE controller_approvals SET status = $2, decided_by = $3, note = $4, decided_at = $5"
            " WHERE id = $1 AND status = 'pending' AND (expires_at IS NULL OR expires_at > $5)"
            f" RETURNING {_APPROVAL_COLUMNS}",
            approval_id,
            status,
            decided_by,
            note,
            now,
        )

    async def expire_approvals(self, now: float) -> int:
        return await self._count(
            "UPDATE controller_approvals SET status = 'expired'"
            " WHERE status = 'pending' AND expires_at IS NOT NULL AND expires_at <= $1",
            now,
        )

    # -- sessions -----------------------------------------------------------------------------

    async def put_session(self, session: Session) -> None:
        await self._db.execute(
            _insert("controller_sessions", Session)
            + " ON CONFLICT (id) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at",
            *_values(session),
        )

    async def get_session(self, session_id: str, now: float) -> Session | None:
        return await self._one(
            Session,
            f"SELECT {_SESSION_COLUMNS} FROM controller_sessions WHERE id = $1 AND expires_at > $2",
            session_id,
            now,
        )

    async def find_session(self, session_id: str) -> Session | None:
        sql = f"SELECT {_SESSION_COLUMNS} FROM controller_sessions WHERE id = $1"
        return await self._one(Session, sql, session_id)

    async def set_session_state(
        self, session_id: str, expected: SessionState, state: SessionState, now: float
    ) -> Session | None:
        return await self._one(
            Session,
            "UPDATE controller_sessions SET state = $3, updated_at = $4"
            f" WHERE id = $1 AND state = $2 RETURNING {_SESSION_COLUMNS}",
            session_id,
            expected,
            state,
            now,
        )

    async def expire_sessions(self, now: float) -> int:
        return await self._count(
            "UPDATE controller_sessions SET state = 'expired', updated_at = $1"
            f" WHERE expires_at <= $1 AND state IN {_OPEN_SESSION}",
            now,
        )

    async def delete_session(self, session_id: str) -> None:
        await self._db.execute("DELETE FROM controller_sessions WHERE id = $1", session_id)

    async def purge_sessions(self, now: float) -> int:
        return await self._count("DELETE FROM controller_sessions WHERE expires_at <= $1", now)

    # -- the org chart ------------------------------------------------------------------------

    async def replace_people(self, tenant: str, people: Sequence[Person]) -> int:
        async with self._db.acquire() as conn, conn.transaction():
            await conn.execute("DELETE FROM controller_people WHERE tenant = $1", tenant)
            await conn.executemany(_insert("controller_people", Person), [_values(p) for p in people])
        return len(people)

    async def get_person(self, tenant: str, user_id: str) -> Person | None:
        sql = f"SELECT {_PERSON_COLUMNS} FROM controller_people WHERE tenant = $1 AND user_id = $2"
        return await self._one(Person, sql, tenant, user_id)

    async def person_by_email(self, tenant: str, email: str) -> Person | None:
        sql = (
            f"SELECT {_PERSON_COLUMNS} FROM controller_people WHERE tenant = $1 AND lower(email) = lower($2)"
            " ORDER BY user_id LIMIT 1"
        )
        return await self._one(Person, sql, tenant, email)

    # -- notifications ------------------------------------------------------------------------

    async def add_notification(self, notification: Notification) -> None:
        await self._db.execute(_insert("controller_notifications", Notification), *_values(notification))

    async def notifications_for(
        self, tenant: str, roles: Sequence[str], after: str | None, limit: int
    ) -> list[Notification]:
        sql = (
            f"SELECT {_NOTIFICATION_COLUMNS} FROM controller_notifications"
            " WHERE tenant = $1 AND target_role = ANY($2::text[])"
        )
        args: list[Any] = [tenant, list(roles), limit]
        if after is not None:
            args.append(after)
            sql += _after("controller_notifications", 4)
        return await self._many(Notification, sql + " ORDER BY created_at, id LIMIT $3", *args)


def _values(record: Record) -> tuple[Any, ...]:
    return tuple(getattr(record, f.name) for f in fields(record))
