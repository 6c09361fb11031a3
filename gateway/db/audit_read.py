"""Reading the Postgres audit log back: verify, NDJSON export and the latest records.

``verify`` (``gateway/audit/verify.py``) walks a synchronous ``ChainSource``; here it runs
in a worker thread while the asyncpg connection stays on the event loop, and each page of
records crosses over with ``run_coroutine_threadsafe``. Records are read by keyset pages on
``pos`` (the storage order), export streams through a server-side cursor: memory stays flat
at tens of millions of rows.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Iterator, Mapping
from typing import Any, BinaryIO, TypeVar

import asyncpg
import orjson

from gateway.audit.export import ExportFilter
from gateway.audit.sink import AuditStoreError, AuditStoreUnavailable
from gateway.audit.sqlite import ChainHead
from gateway.audit.verify import StoredRecord, VerifyReport, verify
from gateway.db.migrate import SchemaError, check_schema, connect

_PAGE = 5000
_COLUMNS = ("instance_id", "seq", "ts", "sub", "decision", "reason", "model", "status", "decision_id", "tool")
_RECORDS = f"SELECT pos, {', '.join(_COLUMNS)}, event FROM audit_events WHERE pos > $1 ORDER BY pos LIMIT $2"
T = TypeVar("T")


class PostgresChainSource:
    """A ``ChainSource`` over the Postgres audit tables, used from a worker thread."""

    def __init__(self, conn: asyncpg.Connection, loop: asyncio.AbstractEventLoop) -> None:
        self._conn = conn
        self._loop = loop

    def _run(self, coro: Awaitable[T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()  # type: ignore[arg-type]

    def records(self) -> Iterator[StoredRecord]:
        after = 0
        while True:
            rows = self._run(self._conn.fetch(_RECORDS, after, _PAGE))
            for row in rows:
                yield StoredRecord(row["pos"], _parse(row["event"]), {name: row[name] for name in _COLUMNS})
            if len(rows) < _PAGE:
                return
            after = rows[-1]["pos"]

    def has_seq(self, instance_id: str, seq: int) -> bool:
        query = "SELECT 1 FROM audit_events WHERE instance_id = $1 AND seq = $2"
        return self._run(self._conn.fetchval(query, instance_id, seq)) is not None

    def heads(self) -> Mapping[str, ChainHead]:
        rows = self._run(self._conn.fetch("SELECT instance_id, seq, hash FROM audit_heads"))
        return {row["instance_id"]: ChainHead(row["seq"], row["hash"]) for row in rows}

    def anchor(self, instance_id: str) -> ChainHead:
        query = "SELECT seq, hash FROM audit_anchors WHERE instance_id = $1"
        row = self._run(self._conn.fetchrow(query, instance_id))
        return ChainHead(row["seq"], row["hash"]) if row else ChainHead()


async def open_reader(dsn: str, schema: str) -> asyncpg.Connection:
    """A connection to a migrated audit store, with failures as ``AuditStoreError``."""
    try:
        conn = await connect(dsn, schema)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        raise AuditStoreUnavailable(f"cannot connect to the Postgres audit store: {exc}") from exc
    try:
        await check_schema(conn, schema)
    except SchemaError as exc:
        await conn.close()
        raise AuditStoreError(str(exc)) from exc
    return conn


async def verify_postgres(dsn: str, schema: str) -> VerifyReport:
    conn = await open_reader(dsn, schema)
    try:
        # Repeatable read: one snapshot, so writers appending meanwhile cannot confuse the walk.
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            source = PostgresChainSource(conn, asyncio.get_running_loop())
            return await asyncio.to_thread(verify, source)
    finally:
        await conn.close()


async def export_postgres(dsn: str, schema: str, out: BinaryIO, filters: ExportFilter) -> int:
    """Write matching records to ``out`` as NDJSON in storage order; returns how many."""
    where, params = filters.where(status="status")
    numbers = itertools.count(1)
    where = "".join(f"${next(numbers)}" if ch == "?" else ch for ch in where)
    conn = await open_reader(dsn, schema)
    count = 0
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            query = f"SELECT event FROM audit_events{where} ORDER BY pos"
            async for row in conn.cursor(query, *params, prefetch=1000):
                out.write(row["event"].encode() + b"\n")
                count += 1
    finally:
        await conn.close()
    return count


async def recent_postgres(dsn: str, schema: str, limit: int) -> list[dict[str, Any]]:
    """The last ``limit`` records, oldest first."""
    conn = await open_reader(dsn, schema)
    try:
        rows = await conn.fetch("SELECT event FROM audit_events ORDER BY pos DESC LIMIT $1", limit)
    finally:
        await conn.close()
    return [_parse(row["event"]) for row in reversed(rows)]


def _parse(raw: str) -> dict[str, Any]:
    try:
        event = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {}
    return event if isinstance(event, dict) else {}
