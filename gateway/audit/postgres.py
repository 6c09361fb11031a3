"""The production audit sink: Postgres via asyncpg, with a local spool for outages.

Each gateway replica appends to its own chain (``instance_id``), so replicas never contend
for a chain head; rows are unique on ``(instance_id, seq)``. A session advisory lock on the
instance id refuses a second live writer of the same chain (two replicas with one name
would fork it).

Writes: one transaction per batch (``executemany`` insert + head update) with a timeout.
When it fails or times out the batch goes to the spool (``gateway/audit/spool.py``) and,
while the spool holds anything, every later batch goes there too, so each chain reaches the
database in order. The spool is replayed before the next direct write, and by a background
task when the gateway is idle. A write whose commit was acknowledged too late for us lands
in the spool as well; its replay inserts nothing twice (``ON CONFLICT DO NOTHING``).

The chain head lives in memory; at start-up it is the database's head, or the spool's last
record when a crash left newer events there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import asyncpg
import orjson

from gateway.audit.event import AuditEvent, body_hash
from gateway.audit.sink import AuditSink, AuditStoreError
from gateway.audit.spool import Spool
from gateway.audit.sqlite import ChainHead, SqliteSink, index_values
from gateway.db.audit_admin import prune
from gateway.db.migrate import SchemaError, check_schema, connect
from gateway.settings import AuditSettings, Settings

log = logging.getLogger("skein.audit")

_INSERT = (
    "INSERT INTO audit_events (instance_id, seq, ts, sub, decision, reason, model, roles, event)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (instance_id, seq) DO NOTHING"
)
_SET_HEAD = (
    "INSERT INTO audit_heads (instance_id, seq, hash) VALUES ($1, $2, $3)"
    " ON CONFLICT (instance_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash"
    " WHERE audit_heads.seq < excluded.seq"
)
_REPLAY_BATCH = 1000
_PRUNE_EVERY_S = 3600.0
_DB_ERRORS = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


def sink_from_settings(settings: Settings, instance_id: str) -> AuditSink:
    """The configured sink: SQLite (embedded default) or Postgres with its spool."""
    audit = settings.audit
    if audit.sink == "sqlite":
        return SqliteSink(settings.audit_db_path, instance_id=instance_id)
    spool_path = audit.spool_path or settings.state_dir / f"audit-spool-{instance_id}.ndjson"
    return PostgresSink(audit, instance_id, Spool(spool_path, audit.spool_max_bytes))


def pg_row(body: dict[str, Any], event_json: str) -> tuple[Any, ...]:
    """The stored columns of one stamped record."""
    return (body["instance_id"], body["seq"], *index_values(body), list(body.get("roles") or ()), event_json)


def stamp(
    batch: list[AuditEvent], instance_id: str, head: ChainHead
) -> tuple[list[tuple[Any, ...]], ChainHead]:
    """Give each event its place in the chain; returns the rows and the new head.

    Same stamping as the SQLite sink: the hash covers the dict as stored, and a value plain
    JSON cannot hold is stored (and hashed) as its string form rather than failing forever.
    """
    seq, prev = head.seq, head.hash
    rows: list[tuple[Any, ...]] = []
    for event in batch:
        seq += 1
        event.instance_id, event.seq, event.prev_hash = instance_id, seq, prev
        body = event.record()
        body.pop("hash")
        try:
            digest = body_hash(body)
        except TypeError:
            body = orjson.loads(orjson.dumps(body, default=str, option=orjson.OPT_NON_STR_KEYS))
            digest = body_hash(body)
        prev = event.hash = body["hash"] = digest
        rows.append(pg_row(body, orjson.dumps(body).decode()))
    return rows, ChainHead(seq, prev)


class PostgresSink:
    def __init__(self, settings: AuditSettings, instance_id: str, spool: Spool) -> None:
        assert settings.postgres_dsn is not None  # AuditSettings validates this
        self._dsn, self._schema = settings.postgres_dsn, settings.postgres_schema
        self._timeout = settings.postgres_timeout_seconds
        self._replay_interval = settings.replay_interval_seconds
        self._retention_days = settings.retention_days
        self._instance_id = instance_id
        self._spool = spool
        self._conn: asyncpg.Connection | None = None
        self._head = ChainHead()
        # append() and the idle replay task must not interleave on the connection or spool.
        self._lock = asyncio.Lock()
        self._replayer: asyncio.Task[None] | None = None
        self._next_connect = 0.0

    @property
    def instance_id(self) -> str:
        return self._instance_id

    @property
    def head(self) -> ChainHead:
        return self._head

    @property
    def spool(self) -> Spool:
        return self._spool

    async def open(self) -> None:
        """Connect, check the schema, load the head and replay a spool left by a crash.

        Fails (and so stops the gateway) when the database is unreachable or at the wrong
        schema version: starting would mean stamping a chain whose head is unknown.
        """
        if self._replayer is not None:
            return
        await asyncio.to_thread(self._spool.open)
        try:
            self._conn = await self._connect(exclusive=True)
            self._head = await self._db_head(self._conn)
        except (OSError, asyncpg.PostgresError, TimeoutError, SchemaError) as exc:
            raise AuditStoreError(f"cannot open the Postgres audit store: {exc}") from exc
        spooled = await asyncio.to_thread(self._spool.last)
        if spooled is not None and spooled["seq"] > self._head.seq:
            self._head = ChainHead(spooled["seq"], spooled["hash"])
        async with self._lock:
            await self._drain_spool()
        self._replayer = asyncio.get_running_loop().create_task(self._background(), name="skein-audit-replay")

    async def append(self, batch: list[AuditEvent]) -> None:
        if not batch:
            return
        async with self._lock:
            rows, head = stamp(batch, self._instance_id, self._head)
            if await self._drain_spool() and await self._insert(rows, head):
                self._head = head
                return
            lines = [row[-1].encode() for row in rows]
            await asyncio.to_thread(self._spool.append, lines)  # SpoolFull: head unchanged
            self._head = head

    async def close(self) -> None:
        if self._replayer is not None:
            self._replayer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._replayer
        async with self._lock:
            self._next_connect = 0.0
            if await self._drain_spool():
                log.info("audit spool empty at shutdown")
            else:
                log.warning("audit spool keeps %d bytes for the next start", self._spool.size)
            conn, self._conn = self._conn, None
            if conn is not None:
                # A clean close releases the chain lock before a restarted writer asks for it.
                with contextlib.suppress(*_DB_ERRORS):
                    await conn.close(timeout=self._timeout)

    # -- writing -----------------------------------------------------------------------------

    async def _insert(self, rows: list[tuple[Any, ...]], head: ChainHead) -> bool:
        """One transaction for the batch and the head; False when the database failed."""
        conn = await self._connection()
        if conn is None:
            return False
        try:
            async with asyncio.timeout(self._timeout), conn.transaction():
                await conn.executemany(_INSERT, rows)
                await conn.execute(_SET_HEAD, self._instance_id, head.seq, head.hash)
        except _DB_ERRORS as exc:
            log.error("audit write to Postgres failed; spooling to %s: %r", self._spool.path, exc)
            await self._drop_connection()
            return False
        return True

    async def _drain_spool(self) -> bool:
        """Replay the spool into the database; True when the spool is (now) empty."""
        if not self._spool.pending:
            return True
        offset, replayed = 0, 0
        while True:
            records, offset = await asyncio.to_thread(self._spool.read, offset, _REPLAY_BATCH)
            if not records:
                break
            rows = [pg_row(r, orjson.dumps(r).decode()) for r in records]
            last = records[-1]
            if not await self._insert(rows, ChainHead(last["seq"], last["hash"])):
                return False
            replayed += len(records)
        await asyncio.to_thread(self._spool.clear)
        log.warning("audit spool replayed into Postgres (%d records)", replayed)
        return True

    async def _background(self) -> None:
        # Without traffic no append() comes to replay the spool; this makes sure it empties.
        next_prune = time.monotonic()
        while True:
            await asyncio.sleep(self._replay_interval)
            if self._spool.pending:
                async with self._lock:
                    await self._drain_spool()
            if self._retention_days is not None and time.monotonic() >= next_prune:
                next_prune = time.monotonic() + _PRUNE_EVERY_S
                await self._prune()

    async def _prune(self) -> None:
        """Scheduled retention, on its own connection: a long delete never delays appends."""
        assert self._retention_days is not None
        cutoff = time.time() - self._retention_days * 86400
        try:
            conn = await connect(self._dsn, self._schema, timeout=self._timeout)
            try:
                removed = await prune(conn, cutoff, skip_if_busy=True)
            finally:
                await conn.close()
        except _DB_ERRORS as exc:
            log.warning("scheduled audit prune failed; retrying in an hour: %r", exc)
            return
        if removed:
            log.info("audit retention pruned %d records", sum(removed.values()))

    # -- the connection ----------------------------------------------------------------------

    async def _connection(self) -> asyncpg.Connection | None:
        """The open connection, or a new one; None (without waiting) while the server is down."""
        if self._conn is not None and not self._conn.is_closed():
            return self._conn
        now = time.monotonic()
        if now < self._next_connect:
            return None  # do not pay a connect timeout on every batch during an outage
        try:
            self._conn = await self._connect()
        except (OSError, asyncpg.PostgresError, TimeoutError, SchemaError, AuditStoreError) as exc:
            self._next_connect = now + self._replay_interval
            log.debug("Postgres audit store still unreachable: %r", exc)
            return None
        log.warning("Postgres audit store reachable again")
        return self._conn

    async def _connect(self, *, exclusive: bool = False) -> asyncpg.Connection:
        """A checked connection that holds this chain's lock, if it can.

        ``exclusive`` (start-up): refuse when another session holds the lock, as a second
        replica with the same instance id would. On a reconnect after a failure the lock may
        still sit with our own dead session until the server notices; waiting for it would
        keep the spool growing, so a reconnect goes ahead without it.
        """
        conn = await connect(self._dsn, self._schema, timeout=self._timeout, command_timeout=self._timeout)
        try:
            await check_schema(conn, self._schema)
            locked = await conn.fetchval(
                "SELECT pg_try_advisory_lock(hashtextextended($1, 0))",
                f"skein-audit:{self._schema}:{self._instance_id}",
            )
        except BaseException:
            await conn.close()
            raise
        if not locked and exclusive:
            await conn.close()
            raise AuditStoreError(
                f"another gateway is writing audit chain {self._instance_id!r}: give each replica"
                " its own audit.instance_id"
            )
        return conn

    async def _db_head(self, conn: asyncpg.Connection) -> ChainHead:
        row = await conn.fetchrow(
            "SELECT seq, hash FROM audit_heads WHERE instance_id = $1", self._instance_id
        )
        return ChainHead(row["seq"], row["hash"]) if row else ChainHead()

    async def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.terminate()  # never wait on a server that just failed us
