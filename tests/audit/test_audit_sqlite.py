from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from gateway.audit.event import GENESIS_HASH, AuditEvent
from gateway.audit.sink import AuditStoreError
from gateway.audit.sqlite import ChainHead, SqliteSink


async def test_append_stamps_a_linked_chain(tmp_path: Path, make_event: Callable[..., AuditEvent]) -> None:
    sink = SqliteSink(tmp_path / "a.db", "replica-1")
    await sink.open()
    batch = [make_event(i) for i in range(1, 4)]
    await sink.append(batch)
    await sink.close()
    assert [e.seq for e in batch] == [1, 2, 3]
    assert batch[0].prev_hash == GENESIS_HASH
    assert [e.prev_hash for e in batch[1:]] == [e.hash for e in batch[:-1]]
    assert all(e.instance_id == "replica-1" for e in batch)
    assert all(e.hash == e.compute_hash() for e in batch)  # the dataclass and the stored body agree


async def test_stored_row_has_the_event_and_index_columns(audit_db: Path) -> None:
    conn = sqlite3.connect(audit_db)
    row = conn.execute(
        "SELECT ts, sub, decision, reason, model, event FROM audit_events WHERE seq = 3"
    ).fetchone()
    assert row[:5] == (1_800_000_003.0, "alice", "deny", "model_not_allowed", "gpt-4o")
    assert orjson.loads(row[5])["id"] == "ev-3"
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"audit_events_ts", "audit_events_sub", "audit_events_decision", "audit_events_model"} <= indexes
    conn.close()


async def test_chain_continues_across_restarts(audit_db: Path, make_event: Callable[..., AuditEvent]) -> None:
    sink = SqliteSink(audit_db, "local")
    await sink.open()
    last_hash = sink.head.hash
    assert sink.head.seq == 5
    batch = [make_event(6), make_event(7)]
    await sink.append(batch)
    await sink.close()
    assert [e.seq for e in batch] == [6, 7]
    assert batch[0].prev_hash == last_hash


async def test_head_falls_back_to_the_last_row(audit_db: Path) -> None:
    conn = sqlite3.connect(audit_db, isolation_level=None)
    conn.execute("DELETE FROM audit_heads")
    conn.close()
    sink = SqliteSink(audit_db, "local")
    await sink.open()
    assert sink.head.seq == 5
    await sink.close()


async def test_each_chain_has_its_own_head(audit_db: Path, make_event: Callable[..., AuditEvent]) -> None:
    sink = SqliteSink(audit_db, "replica-2")
    await sink.open()
    assert sink.head == ChainHead()
    event = make_event(1)
    await sink.append([event])
    await sink.close()
    assert (event.seq, event.prev_hash) == (1, GENESIS_HASH)


async def test_a_failed_batch_stores_nothing_and_keeps_the_head(
    tmp_path: Path, make_event: Callable[..., AuditEvent]
) -> None:
    path = tmp_path / "a.db"
    sink = SqliteSink(path)
    await sink.open()
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute(  # occupies seq 3, so the batch fails on its third row
        "INSERT INTO audit_events (instance_id, seq, ts, decision, event)"
        " VALUES ('local', 3, 0, 'deny', '{}')"
    )
    batch = [make_event(i) for i in range(1, 6)]
    with pytest.raises(sqlite3.IntegrityError):
        await sink.append(batch)
    assert blocker.execute("SELECT count(*) FROM audit_events").fetchone()[0] == 1
    assert sink.head == ChainHead()
    blocker.execute("DELETE FROM audit_events")
    await sink.append(batch)  # the same batch again: re-stamped identically
    assert sink.head.seq == 5
    assert blocker.execute("SELECT count(*) FROM audit_events").fetchone()[0] == 5
    blocker.close()
    await sink.close()


async def test_values_json_cannot_hold_are_stored_as_strings(
    tmp_path: Path, make_event: Callable[..., AuditEvent]
) -> None:
    sink = SqliteSink(tmp_path / "a.db")
    await sink.open()
    event = make_event(1, resource={"tags": {"x"}, 7: "seven"})
    await sink.append([event])
    await sink.close()
    row = sqlite3.connect(tmp_path / "a.db").execute("SELECT event FROM audit_events").fetchone()
    assert orjson.loads(row[0])["resource"] == {"tags": "{'x'}", "7": "seven"}


async def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    sqlite3.connect(path).execute("PRAGMA user_version = 99")
    with pytest.raises(AuditStoreError, match="newer"):
        await SqliteSink(path).open()


async def test_a_second_live_writer_of_one_chain_is_refused(
    tmp_path: Path, make_event: Callable[..., AuditEvent]
) -> None:
    # Two processes on one host with the defaults share the host name as instance_id;
    # the second must fail at start-up, not write duplicate sequence numbers later.
    path = tmp_path / "a.db"
    first = SqliteSink(path, "host-1")
    await first.open()
    with pytest.raises(AuditStoreError, match="already written by another live process"):
        await SqliteSink(path, "host-1").open()
    other = SqliteSink(path, "host-2")  # another chain in the same file is fine
    await other.open()
    await other.append([make_event(1)])
    await other.close()
    await first.close()
    again = SqliteSink(path, "host-1")  # the lock goes with the process (or the close)
    await again.open()
    await again.append([make_event(2)])
    await again.close()
    assert again.head.seq == 1
