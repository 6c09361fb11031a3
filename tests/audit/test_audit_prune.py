"""Retention on the SQLite log: a prefix per chain goes, the chain stays verifiable."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from gateway.audit.query import prune_sqlite
from gateway.audit.verify import verify_sqlite
from tests.audit.conftest import write_log

BASE = 1_800_000_000.0  # build_event(i) is stamped BASE + i


async def test_prune_keeps_the_chain_verifiable(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    await write_log(path, 5)
    assert prune_sqlite(path, BASE + 3.5) == {"local": 3}
    report = verify_sqlite(path)
    assert report.ok, report.summary()
    with sqlite3.connect(path) as conn:
        assert [s for (s,) in conn.execute("SELECT seq FROM audit_events ORDER BY pos")] == [4, 5]
        assert conn.execute("SELECT seq FROM audit_anchors").fetchone() == (3,)
    await write_log(path, 2, start=6)  # the writer continues the chain after a prune
    assert verify_sqlite(path).ok


async def test_prune_twice_and_nothing_to_prune(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    await write_log(path, 5)
    assert prune_sqlite(path, BASE) == {}
    assert prune_sqlite(path, BASE + 2.5) == {"local": 2}
    assert prune_sqlite(path, BASE + 4.5) == {"local": 2}
    assert verify_sqlite(path).ok


async def test_tampering_after_a_prune_is_still_caught(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    await write_log(path, 5)
    prune_sqlite(path, BASE + 2.5)
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE audit_anchors SET hash = ?", ("0" * 64,))
    assert not verify_sqlite(path).ok
