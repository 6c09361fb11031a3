"""The embedded audit store: one SQLite file, one writer thread.

Layout (schema version 1, in ``PRAGMA user_version``):

* ``audit_events``: one row per event. ``pos`` is the storage order (what ``verify`` walks),
  ``event`` the full event as JSON (what the hash covers), and ``ts``, ``sub``, ``decision``,
  ``reason``, ``model`` are copies for indexed queries (``verify`` checks they agree with
  ``event``, so a query cannot be misled by an edited column). ``decision_id`` and ``tool``
  (``GET /v1/decisions``) were added within v1: a writable open adds them to an older file
  and fills them from its records (``_LOOKUP_COLUMNS``); readers check they exist.
* ``audit_heads``: the last ``(seq, hash)`` of each chain, updated in the same transaction as
  the rows. It lets a restarted gateway continue its chain and lets ``verify`` notice records
  cut from the end, which a hash chain alone cannot.

One live writer per chain: the sink holds an exclusive ``flock`` on
``<file>.<instance_id>.lock`` while open, so a second process configured with the same
``instance_id`` (say, two workers on one host with the defaults) is refused at start-up
instead of corrupting the chain with duplicate sequence numbers.

WAL with ``synchronous=NORMAL``: a commit survives a killed process; readers (``skein audit
tail``) never block the writer. What makes an answered call's record durable is the spool in
front of this store (``gateway/audit/spool.py``); the file follows it within a batch.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import re
import sqlite3
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson

from gateway.audit.chain import ChainHead, IndexValues, StampedRecord, index_values, lookup_values, stamp
from gateway.audit.event import AuditEvent
from gateway.audit.sink import AuditStoreError, continuing

__all__ = ["ChainHead", "IndexValues", "SqliteSink", "claim_chain", "claim_lock", "connect", "index_values"]

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_events (
    pos         INTEGER PRIMARY KEY,
    instance_id TEXT    NOT NULL,
    seq         INTEGER NOT NULL,
    ts          REAL    NOT NULL,
    sub         TEXT,
    decision    TEXT    NOT NULL,
    reason      TEXT,
    model       TEXT,
    event       TEXT    NOT NULL,
    UNIQUE (instance_id, seq)
);
CREATE INDEX IF NOT EXISTS audit_events_ts ON audit_events (ts);
CREATE INDEX IF NOT EXISTS audit_events_sub ON audit_events (sub, ts);
CREATE INDEX IF NOT EXISTS audit_events_decision ON audit_events (decision, ts);
CREATE INDEX IF NOT EXISTS audit_events_reason ON audit_events (reason, ts);
CREATE INDEX IF NOT EXISTS audit_events_model ON audit_events (model, ts);
CREATE TABLE IF NOT EXISTS audit_heads (
    instance_id TEXT PRIMARY KEY,
    seq         INTEGER NOT NULL,
    hash        TEXT    NOT NULL
);
-- Where each chain starts after retention pruned a prefix: the last pruned (seq, hash).
CREATE TABLE IF NOT EXISTS audit_anchors (
    instance_id TEXT PRIMARY KEY,
    seq         INTEGER NOT NULL,
    hash        TEXT    NOT NULL
);
"""

# Columns added within v1. The fill reads only well-formed records (a corrupted one keeps
# NULL, so the open never fails on it; verify then reports that record, as it should).
_LOOKUP_COLUMNS = """
ALTER TABLE audit_events ADD COLUMN decision_id TEXT;
ALTER TABLE audit_events ADD COLUMN tool TEXT;
UPDATE audit_events SET
    decision_id = CASE WHEN json_valid(event) AND json_type(event, '$.decision_id') = 'text'
                       THEN NULLIF(json_extract(event, '$.decision_id'), '') END,
    tool = CASE WHEN json_valid(event) AND json_type(event, '$.resource.tool') = 'text'
                THEN NULLIF(json_extract(event, '$.resource.tool'), '') END;
"""
_LOOKUP_INDEXES = """
CREATE INDEX IF NOT EXISTS audit_events_decision_id ON audit_events (decision_id);
CREATE INDEX IF NOT EXISTS audit_events_tool ON audit_events (tool, ts);
"""

_INSERT = (
    "INSERT INTO audit_events (instance_id, seq, ts, sub, decision, reason, model, decision_id, tool, event)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_SET_HEAD = (
    "INSERT INTO audit_heads (instance_id, seq, hash) VALUES (?, ?, ?)"
    " ON CONFLICT (instance_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash"
)


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """Open the audit file; read-only connections never create it."""
    if readonly:
        if not path.is_file():
            raise AuditStoreError(f"no audit log at {path}")
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=5000")
    _check_schema(conn, path, create=not readonly)
    return conn


def _check_schema(conn: sqlite3.Connection, path: Path, *, create: bool) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise AuditStoreError(f"{path}: audit schema v{version} is newer than this gateway (v1)")
    if version == SCHEMA_VERSION:
        if create:  # tables added within v1 (audit_anchors) appear on the next writable open
            conn.executescript(_SCHEMA)
            _add_lookup_columns(conn)
        return
    if not create:
        raise AuditStoreError(f"{path} is not a Skein audit log")
    conn.executescript(_SCHEMA + f"PRAGMA user_version={SCHEMA_VERSION};")
    _add_lookup_columns(conn)


def has_lookup_columns(conn: sqlite3.Connection) -> bool:
    """Whether the file has ``decision_id`` and ``tool`` (a file last opened by an older gateway
    has not)."""
    names = {row[1] for row in conn.execute("PRAGMA table_info(audit_events)")}
    return {"decision_id", "tool"} <= names


def _add_lookup_columns(conn: sqlite3.Connection) -> None:
    if not has_lookup_columns(conn):
        conn.executescript(f"BEGIN IMMEDIATE; {_LOOKUP_COLUMNS} COMMIT;")
    conn.executescript(_LOOKUP_INDEXES)


def read_head(conn: sqlite3.Connection, instance_id: str) -> ChainHead:
    """The recorded head of a chain; falls back to its last row if the head row is missing."""
    row = conn.execute("SELECT seq, hash FROM audit_heads WHERE instance_id = ?", (instance_id,)).fetchone()
    if row is not None:
        return ChainHead(row[0], row[1])
    last = conn.execute(
        "SELECT event FROM audit_events WHERE instance_id = ? ORDER BY seq DESC LIMIT 1", (instance_id,)
    ).fetchone()
    if last is None:
        return ChainHead()
    event = orjson.loads(last[0])
    return ChainHead(event["seq"], event["hash"])


class SqliteSink:
    """``AuditSink`` on a SQLite file. All database work runs on one dedicated thread."""

    label = "SQLite"

    def __init__(self, path: Path, instance_id: str = "local") -> None:
        self._path = path
        self._instance_id = instance_id
        # One thread for the connection's whole life: sqlite3 objects stay on their thread
        # and there is exactly one writer. (No thread starts until the first call.)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="skein-audit-sqlite")
        self._conn: sqlite3.Connection | None = None
        self._lock_fd: int | None = None
        self._head = ChainHead()

    async def open(self) -> None:
        """Create the file and schema if needed and load this chain's head."""
        if self._conn is None:
            await asyncio.get_running_loop().run_in_executor(self._executor, self._open_sync)

    def _open_sync(self) -> None:
        self._lock_fd = claim_chain(self._path, self._instance_id)
        try:
            conn = connect(self._path)
            self._head = read_head(conn, self._instance_id)
        except sqlite3.Error as exc:
            self._release()
            raise AuditStoreError(f"cannot open audit log {self._path}: {exc}") from exc
        self._conn = conn

    def _release(self) -> None:
        fd, self._lock_fd = self._lock_fd, None
        if fd is not None:
            os.close(fd)  # closing the descriptor drops the flock

    @property
    def instance_id(self) -> str:
        return self._instance_id

    @property
    def head(self) -> ChainHead:
        return self._head

    async def store(self, records: Sequence[StampedRecord]) -> None:
        fresh = continuing(records, self._head)
        if not fresh:
            return
        rows = [(r.instance_id, r.seq, *index_values(r.event), *lookup_values(r.event), r.raw) for r in fresh]
        head = fresh[-1].head
        await asyncio.get_running_loop().run_in_executor(self._executor, self._write_sync, rows, head)

    async def append(self, batch: list[AuditEvent]) -> None:
        """Stamp ``batch`` after the stored head and store it (tools and tests; the gateway
        goes through the spool)."""
        records, head = [], self._head
        for event in batch:
            record, head = stamp(event, self._instance_id, head)
            records.append(record)
        await self.store(records)

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        try:
            if conn is not None:
                await asyncio.get_running_loop().run_in_executor(self._executor, conn.close)
        finally:
            self._executor.shutdown(wait=True)
            self._release()

    def _write_sync(self, rows: list[tuple[Any, ...]], head: ChainHead) -> None:
        conn = self._conn
        if conn is None:
            raise AuditStoreError("the audit sink is not open")
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(_INSERT, rows)
            conn.execute(_SET_HEAD, (self._instance_id, head.seq, head.hash))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:  # SQLite may already have rolled back (disk full, I/O error)
                conn.execute("ROLLBACK")
            raise
        # Only a committed batch moves the head.
        self._head = head


def claim_chain(path: Path, instance_id: str) -> int:
    """Take the exclusive writer lock of one chain in the SQLite file at ``path``."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", instance_id)
    lock_path = path.with_name(f"{path.name}.{safe}.lock")
    return claim_lock(lock_path, f"audit chain {instance_id!r} in {path}")


def claim_lock(lock_path: Path, what: str) -> int:
    """An exclusive ``flock`` on ``lock_path``; raise if a live process holds it."""
    try:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise AuditStoreError(f"cannot create the audit lock {lock_path}: {exc}") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise AuditStoreError(
            f"{what} is already written by another live process;"
            " give each process its own audit.instance_id (SKEIN_AUDIT__INSTANCE_ID)"
        ) from None
    return fd
