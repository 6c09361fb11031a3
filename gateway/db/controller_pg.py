"""The Postgres ``ControllerStore``: tables from migration 0002, one asyncpg pool."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import asyncpg
import orjson

from gateway.db.controller import Approval, ApprovalStatus, ControllerStoreError, Session, Task, TaskStatus
from gateway.db.migrate import SchemaError, check_schema, connect


def _columns(record_type: type) -> str:
    return ", ".join(f.name for f in fields(record_type))


def _insert(table: str, record_type: type) -> str:
    marks = ", ".join(f"${i}" for i in range(1, len(fields(record_type)) + 1))
    return f"INSERT INTO {table} ({_columns(record_type)}) VALUES ({marks})"


_TASK_COLUMNS = _columns(Task)
_APPROVAL_COLUMNS = _columns(Approval)
_SESSION_COLUMNS = _columns(Session)


async def _json_codec(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec(
        "jsonb", encoder=lambda v: orjson.dumps(v).decode(), decoder=orjson.loads, schema="pg_catalog"
    )


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

    # -- tasks --------------------------------------------------------------------------------

    async def add_task(self, task: Task) -> None:
        await self._db.execute(_insert("controller_tasks", Task), *_values(task))

    async def get_task(self, task_id: str) -> Task | None:
        row = await self._db.fetchrow(f"SELECT {_TASK_COLUMNS} FROM controller_tasks WHERE id = $1", task_id)
        return Task(**dict(row)) if row else None

    async def inbox(self, tenant: str, role: str, status: TaskStatus, limit: int) -> list[Task]:
        rows = await self._db.fetch(
            f"SELECT {_TASK_COLUMNS} FROM controller_tasks WHERE tenant = $1 AND to_role = $2 AND status = $3"
            " ORDER BY created_at, id LIMIT $4",
            tenant,
            role,
            status,
            limit,
        )
        return [Task(**dict(row)) for row in rows]

    async def set_task_status(
        self,
        task_id: str,
        expected: TaskStatus,
        status: TaskStatus,
        now: float,
        result: dict[str, Any] | None = None,
    ) -> Task | None:
        row = await self._db.fetchrow(
            "UPDATE controller_tasks SET status = $3, updated_at = $4, result = coalesce($5, result)"
            f" WHERE id = $1 AND status = $2 RETURNING {_TASK_COLUMNS}",
            task_id,
            expected,
            status,
            now,
            result,
        )
        return Task(**dict(row)) if row else None

    # -- approvals ----------------------------------------------------------------------------

    async def add_approval(self, approval: Approval) -> None:
        await self._db.execute(_insert("controller_approvals", Approval), *_values(approval))

    async def get_approval(self, approval_id: str) -> Approval | None:
        query = f"SELECT {_APPROVAL_COLUMNS} FROM controller_approvals WHERE id = $1"
        row = await self._db.fetchrow(query, approval_id)
        return Approval(**dict(row)) if row else None

    async def redeem_approval(self, approval_id: str) -> Approval | None:
        row = await self._db.fetchrow(
            "UPDATE controller_approvals SET status = 'used'"
            f" WHERE id = $1 AND status = 'approved' RETURNING {_APPROVAL_COLUMNS}",
            approval_id,
        )
        return Approval(**dict(row)) if row else None

    async def pending_approvals(self, tenant: str, approver_role: str, limit: int) -> list[Approval]:
        rows = await self._db.fetch(
            f"SELECT {_APPROVAL_COLUMNS} FROM controller_approvals"
            " WHERE tenant = $1 AND approver_role = $2 AND status = 'pending'"
            " ORDER BY created_at, id LIMIT $3",
            tenant,
            approver_role,
            limit,
        )
        return [Approval(**dict(row)) for row in rows]

    async def decide_approval(
        self, approval_id: str, status: ApprovalStatus, decided_by: str, note: str | None, now: float
    ) -> Approval | None:
        row = await self._db.fetchrow(
            "UPDATE controller_approvals SET status = $2, decided_by = $3, note = $4, decided_at = $5"
            f" WHERE id = $1 AND status = 'pending' RETURNING {_APPROVAL_COLUMNS}",
            approval_id,
            status,
            decided_by,
            note,
            now,
        )
        return Approval(**dict(row)) if row else None

    # -- sessions -----------------------------------------------------------------------------

    async def put_session(self, session: Session) -> None:
        await self._db.execute(
            _insert("controller_sessions", Session)
            + " ON CONFLICT (id) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at",
            *_values(session),
        )

    async def get_session(self, session_id: str, now: float) -> Session | None:
        row = await self._db.fetchrow(
            f"SELECT {_SESSION_COLUMNS} FROM controller_sessions WHERE id = $1 AND expires_at > $2",
            session_id,
            now,
        )
        return Session(**dict(row)) if row else None

    async def delete_session(self, session_id: str) -> None:
        await self._db.execute("DELETE FROM controller_sessions WHERE id = $1", session_id)

    async def purge_sessions(self, now: float) -> int:
        status = await self._db.execute("DELETE FROM controller_sessions WHERE expires_at <= $1", now)
        return int(status.split()[-1])


def _values(record: Task | Approval | Session) -> tuple[Any, ...]:
    return tuple(getattr(record, f.name) for f in fields(record))
