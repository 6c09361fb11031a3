from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson
import pytest

from gateway.audit.event import body_hash
from gateway.audit.sink import AuditStoreError
from gateway.audit.sqlite import ChainHead
from gateway.audit.verify import StoredRecord, verify, verify_sqlite


def event_at(db: sqlite3.Connection, seq: int) -> dict[str, Any]:
    row = db.execute("SELECT event FROM audit_events WHERE seq = ?", (seq,)).fetchone()
    event: dict[str, Any] = orjson.loads(row[0])
    return event


def store(db: sqlite3.Connection, seq: int, event: dict[str, Any]) -> None:
    db.execute("UPDATE audit_events SET event = ? WHERE seq = ?", (orjson.dumps(event).decode(), seq))


def test_an_intact_log_passes(audit_db: Path) -> None:
    report = verify_sqlite(audit_db)
    assert report.ok
    assert report.records == 5
    assert report.chains[0].head.seq == 5
    assert "intact: 5 records in 1 chain" in report.summary()


def test_an_edited_field_is_found(audit_db: Path, db: sqlite3.Connection) -> None:
    event = event_at(db, 3)
    event["allow"] = True
    store(db, 3, event)
    problem = verify_sqlite(audit_db).problem
    assert problem is not None
    assert (problem.seq, problem.kind) == (3, "edited")


def test_an_edited_index_column_is_found(audit_db: Path, db: sqlite3.Connection) -> None:
    db.execute("UPDATE audit_events SET decision = 'allow' WHERE seq = 3")
    problem = verify_sqlite(audit_db).problem
    assert problem is not None
    assert (problem.seq, problem.kind) == (3, "edited")
    assert "decision" in problem.detail


def test_a_deleted_record_is_found(audit_db: Path, db: sqlite3.Connection) -> None:
    db.execute("DELETE FROM audit_events WHERE seq = 3")
    problem = verify_sqlite(audit_db).problem
    assert problem is not None
    assert (problem.seq, problem.kind) == (3, "missing")


def test_a_deleted_first_record_is_found(audit_db: Path, db: sqlite3.Connection) -> None:
    db.execute("DELETE FROM audit_events WHERE seq = 1")
    problem = verify_sqlite(audit_db).problem
    assert problem is not None
    assert (problem.seq, problem.kind) == (1, "missing")


def test_a_cut_tail_is_found(audit_db: Path, db: sqlite3.Connection) -> None:
    db.execute("DELETE FROM audit_events WHERE seq >= 4")
    problem = verify_sqlite(audit_db).problem
    assert problem is not None
    assert (problem.seq, problem.kind) == (4, "truncated")


def test_two_swapped_records_are_found(audit_db: Path, db: sqlite3.Connection) -> None:
    pos3 = db.execute("SELECT pos FROM audit_events WHERE seq = 3").fetchone()[0]
    pos4 = db.execute("SELECT pos FROM audit_events WHERE seq = 4").fetchone()[0]
    db.execute("UPDATE audit_events SET pos = -1 WHERE pos = ?", (pos3,))
    db.execute("UPDATE audit_events SET pos = ? WHERE pos = ?", (pos3, pos4))
    db.execute("UPDATE audit_events SET pos = ? WHERE pos = -1", (pos4,))
    problem = verify_sqlite(audit_db).problem
    assert problem is not None
    assert (problem.seq, problem.kind) == (3, "reordered")


def test_a_rewritten_and_rehashed_record_breaks_the_next_link(audit_db: Path, db: sqlite3.Connection) -> None:
    event = event_at(db, 3)
    event["sub"] = "mallory"
    event.pop("hash")
    event["hash"] = body_hash(event)
    store(db, 3, event)
    db.execute("UPDATE audit_events SET sub = 'mallory' WHERE seq = 3")
    problem = verify_sqlite(audit_db).problem
    assert problem is not None
    assert (problem.seq, problem.kind) == (4, "broken_link")


async def test_a_chain_that_does_not_start_at_genesis_is_found(
    tmp_path: Path, log_writer: Callable[..., Awaitable[None]]
) -> None:
    path = tmp_path / "audit.db"
    await log_writer(path, 1)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("DELETE FROM audit_events")
    db.execute("UPDATE audit_heads SET seq = 0, hash = ?", ("ab" * 32,))  # a forged starting point
    db.close()
    await log_writer(path, 3)
    problem = verify_sqlite(path).problem
    assert problem is not None
    assert (problem.seq, problem.kind) == (1, "bad_genesis")


def test_an_unreadable_record_is_reported(audit_db: Path, db: sqlite3.Connection) -> None:
    db.execute("UPDATE audit_events SET event = 'not json' WHERE seq = 2")
    problem = verify_sqlite(audit_db).problem
    assert problem is not None
    assert (problem.seq, problem.kind) == (2, "malformed")


async def test_chains_are_checked_per_instance(
    tmp_path: Path, log_writer: Callable[..., Awaitable[None]]
) -> None:
    path = tmp_path / "audit.db"
    for start in (1, 4):  # two replicas, interleaved batches
        await log_writer(path, 3, instance_id="replica-a", start=start)
        await log_writer(path, 2, instance_id="replica-b", start=start)
    report = verify_sqlite(path)
    assert report.ok, report.summary()
    assert [(c.instance_id, c.records) for c in report.chains] == [("replica-a", 6), ("replica-b", 4)]
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("DELETE FROM audit_events WHERE instance_id = 'replica-b' AND seq = 2")
    db.close()
    problem = verify_sqlite(path).problem
    assert problem is not None
    assert (problem.instance_id, problem.seq, problem.kind) == ("replica-b", 2, "missing")


def test_a_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(AuditStoreError, match="no audit log"):
        verify_sqlite(tmp_path / "nope.db")


class ListSource:
    """Any store verifies the same way: here, records from an NDJSON export."""

    def __init__(self, lines: list[bytes]) -> None:
        self._events = [orjson.loads(line) for line in lines]

    def records(self) -> Iterator[StoredRecord]:
        return (StoredRecord(pos, event) for pos, event in enumerate(self._events))

    def has_seq(self, instance_id: str, seq: int) -> bool:
        return any(e["instance_id"] == instance_id and e["seq"] == seq for e in self._events)

    def heads(self) -> Mapping[str, ChainHead]:
        return {}

    def anchor(self, instance_id: str) -> ChainHead:
        return ChainHead()


def test_verify_works_on_any_chain_source(db: sqlite3.Connection) -> None:
    lines = [row[0].encode() for row in db.execute("SELECT event FROM audit_events ORDER BY pos")]
    assert verify(ListSource(lines)).ok
    problem = verify(ListSource([lines[0], lines[2], lines[1], *lines[3:]])).problem
    assert problem is not None
    assert (problem.seq, problem.kind) == (2, "reordered")


async def test_every_missing_range_is_reported_not_only_the_first(
    tmp_path: Path, log_writer: Callable[..., Awaitable[None]]
) -> None:
    path = tmp_path / "audit.db"
    await log_writer(path, 20)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("DELETE FROM audit_events WHERE seq BETWEEN 3 AND 5 OR seq IN (9, 19, 20)")
    db.close()
    report = verify_sqlite(path)
    assert not report.ok
    assert [(g.seq, g.last, g.kind) for g in report.gaps] == [
        (3, 5, "missing"),
        (9, 9, "missing"),
        (19, 20, "truncated"),  # the cut tail is a missing range too
    ]
    assert report.records == 14  # the walk went on after each gap
    summary = report.summary()
    assert "3 missing ranges, 6 records" in summary
    assert "chain 'local': seq 3..5" in summary and "seq 9\n" in summary


async def test_a_gap_does_not_hide_a_later_edit(
    tmp_path: Path, log_writer: Callable[..., Awaitable[None]]
) -> None:
    path = tmp_path / "audit.db"
    await log_writer(path, 10)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("DELETE FROM audit_events WHERE seq = 2")
    db.execute("UPDATE audit_events SET event = json_set(event, '$.sub', 'mallory') WHERE seq = 7")
    db.close()
    report = verify_sqlite(path)
    assert [(p.seq, p.kind) for p in report.problems] == [(2, "missing"), (7, "edited")]
    assert report.problem is not None and report.problem.kind == "missing"
