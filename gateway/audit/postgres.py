"""The production audit store: Postgres via asyncpg, one hash chain per replica.

Each replica stores its own chain (``instance_id``), so replicas never contend for a chain
head; rows are unique on ``(instance_id, seq)``. The sink writes only while its session
holds an advisory lock on the chain: a second live writer of the same chain (two replicas
with one name) never forks it, it waits, loudly, in the degraded state. So does a replica
restarted after a kill while Postgres still keeps its old session: the server drops that
session once TCP keepalives find it dead (about a minute), then the lock is free.

The sink keeps nothing itself: every record waits in the local spool in front of it
(``gateway/audit/spool.py``) until ``store`` has committed it. When Postgres is down, hangs
or resets the connection, ``store`` raises within ``postgres_timeout_seconds`` and the
writer's shipper tries again later; the gateway goes on answering from the spool.

Exactly once: the chain head is read from the database at every (re)connect and ``store``
skips records at or before it (a batch whose commit was acknowledged too late, records read
again from the spool after a crash); ``ON CONFLICT DO NOTHING`` is the backstop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from typing import Any

import asyncpg

from gateway.audit.chain import ChainHead, StampedRecord, index_values, lookup_values, stamp
from gateway.audit.event import AuditEvent
from gateway.audit.sink import AuditStoreError, ChainLocked, continuing
from gateway.db.audit_admin import prune
from gateway.db.migrate import SchemaError, check_schema, connect
from gateway.settings import AuditSettings

log = logging.getLogger("skein.audit")

_INSERT = (
    "INSERT INTO audit_events"
    " (instance_id, seq, ts, sub, decision, reason, model, roles, status, decision_id, tool, event)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (instance_id, seq) DO NOTHING"
)
_SET_HEAD = (
    "INSERT INTO audit_heads (instance_id, seq, hash) VALUES ($1, $2, $3)"
    " ON CONFLICT (instance_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash"
    " WHERE audit_heads.seq < excluded.seq"
)
_PRUNE_EVERY_S = 3600.0
DB_ERRORS = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


def pg_row(record: StampedRecord) -> tuple[Any, ...]:
    """The stored columns of one stamped record."""
    event = record.event
    roles = list(event.get("roles") or ())
    return (
        record.instance_id,
        record.seq,
        *index_values(event),
        roles,
        event.get("status"),
        *lookup_values(event),
        record.raw,
    )


class PostgresSink:
    label = "Postgres"

    def __init__(self, settings: AuditSettings, instance_id: str) -> None:
        assert settings.postgres_dsn is not None  # AuditSettings validates this
        self._dsn, self._schema = settings.postgres_dsn, settings.postgres_schema
        self._timeout = settings.postgres_timeout_seconds
        self._retention_days = settings.retention_days
        self._first_prune_s = settings.replay_interval_seconds
        self._instance_id = instance_id
        self._conn: asyncpg.Connection | None = None
        self._head: ChainHead | None = None  # known while connected
        self._pruner: asyncio.Task[None] | None = None

    @property
    def instance_id(self) -> str:
        return self._instance_id

    @property
    def head(self) -> ChainHead | None:
        return self._head

    async def open(self) -> None:
        """Connect, check the schema, take the chain's lock and load the head, if it can.

        Raises when the schema is behind or ahead (a deploy mistake: fail fast). A server
        that is down, or a lock held elsewhere, is not fatal: the spool holds records until
        ``store`` gets through.
        """
        try:
            await self._reconnect()
        except SchemaError as exc:
            raise AuditStoreError(f"cannot open the Postgres audit store: {exc}") from exc
        except (*DB_ERRORS, ChainLocked) as exc:
            log.warning("Postgres audit store not writable at start-up; serving from the spool: %s", exc)
        if self._retention_days is not None and self._pruner is None:
            self._pruner = asyncio.get_running_loop().create_task(
                self._prune_hourly(), name="skein-audit-prune"
            )

    async def store(self, records: Sequence[StampedRecord]) -> None:
        """One transaction for the new records and the head; raises ``AuditStoreError``."""
        try:
            conn = self._conn if self._conn is not None and not self._conn.is_closed() else None
            if conn is None or self._head is None:
                conn = await self._reconnect()
            assert self._head is not None
            fresh = continuing(records, self._head)
            if not fresh:
                return
            head = fresh[-1].head
            async with asyncio.timeout(self._timeout), conn.transaction():
                await conn.executemany(_INSERT, [pg_row(r) for r in fresh])
                await conn.execute(_SET_HEAD, self._instance_id, head.seq, head.hash)
        except ChainLocked:
            raise
        except (*DB_ERRORS, SchemaError) as exc:
            self._drop_connection()
            raise AuditStoreError(f"Postgres audit store: {exc!r}") from exc
        self._head = head

    async def append(self, batch: list[AuditEvent]) -> None:
        """Stamp ``batch`` after the stored head and store it (tools and tests)."""
        head = self._head if self._head is not None else await self._load_head()
        records = []
        for event in batch:
            record, head = stamp(event, self._instance_id, head)
            records.append(record)
        await self.store(records)

    async def close(self) -> None:
        if self._pruner is not None:
            self._pruner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pruner
        conn, self._conn = self._conn, None
        if conn is not None:
            # A clean close releases the chain lock before a restarted writer asks for it.
            with contextlib.suppress(*DB_ERRORS):
                await conn.close(timeout=self._timeout)

    # -- the connection ----------------------------------------------------------------------

    async def _load_head(self) -> ChainHead:
        await self._reconnect()
        assert self._head is not None
        return self._head

    async def _reconnect(self) -> asyncpg.Connection:
        """A new checked connection holding this chain's lock, and the stored head.

        Raises ``ChainLocked`` when another session holds the lock: a second replica with
        this instance id, or our own killed predecessor's session that the server has not
        dropped yet. Writing anyway could fork the chain; waiting cannot.
        """
        self._drop_connection()
        conn = await connect(
            self._dsn, self._schema, timeout=self._timeout, command_timeout=self._timeout, keepalive=True
        )
        try:
            await check_schema(conn, self._schema)
            locked = await conn.fetchval(
                "SELECT pg_try_advisory_lock(hashtextextended($1, 0))",
                f"skein-audit:{self._schema}:{self._instance_id}",
            )
            if not locked:
                raise ChainLocked(
                    f"audit chain {self._instance_id!r} is locked by another session: a second replica"
                    " with this audit.instance_id, or a killed one's session not yet dropped"
                )
            row = await conn.fetchrow(
                "SELECT seq, hash FROM audit_heads WHERE instance_id = $1", self._instance_id
            )
        except BaseException:
            conn.terminate()
            raise
        self._conn = conn
        self._head = ChainHead(row["seq"], row["hash"]) if row else ChainHead()
        return conn

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        self._head = None  # a commit may have landed after all: read it again on reconnect
        if conn is not None:
            conn.terminate()  # never wait on a server that just failed us

    # -- retention ---------------------------------------------------------------------------

    async def _prune_hourly(self) -> None:
        await asyncio.sleep(self._first_prune_s)  # not in the middle of start-up
        while True:
            await self._prune()
            await asyncio.sleep(_PRUNE_EVERY_S)

    async def _prune(self) -> None:
        """Scheduled retention, on its own connection: a long delete never delays stores."""
        assert self._retention_days is not None
        cutoff = time.time() - self._retention_days * 86400
        try:
            conn = await connect(self._dsn, self._schema, timeout=self._timeout)
            try:
                removed = await prune(conn, cutoff, skip_if_busy=True)
            finally:
                await conn.close()
        except DB_ERRORS as exc:
            log.warning("scheduled audit prune failed; retrying in an hour: %r", exc)
            return
        if removed:
            log.info("audit retention pruned %d records", sum(removed.values()))
