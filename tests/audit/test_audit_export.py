from __future__ import annotations

import io
import sqlite3
from pathlib import Path

import orjson
import pytest

from gateway.audit.export import ExportFilter, export_ndjson, open_log, parse_time, recent
from gateway.audit.sink import AuditStoreError

BASE = 1_800_000_000.0  # ts of event 0 in the fixture log (event i is at BASE + i)


def export(path: Path, filters: ExportFilter | None = None) -> list[dict[str, object]]:
    out = io.BytesIO()
    conn = open_log(path)
    count = export_ndjson(conn, out, filters or ExportFilter())
    conn.close()
    lines = out.getvalue().splitlines()
    assert len(lines) == count
    return [orjson.loads(line) for line in lines]


def test_export_writes_every_record_as_stored(audit_db: Path) -> None:
    records = export(audit_db)
    assert [r["seq"] for r in records] == [1, 2, 3, 4, 5]
    stored = sqlite3.connect(audit_db).execute("SELECT event FROM audit_events ORDER BY pos").fetchall()
    assert [orjson.loads(row[0]) for row in stored] == records
    assert all(isinstance(r["hash"], str) for r in records)


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (ExportFilter(since=BASE + 2), [2, 3, 4, 5]),
        (ExportFilter(until=BASE + 2), [1]),
        (ExportFilter(since=BASE + 2, until=BASE + 4), [2, 3]),
        (ExportFilter(sub="alice"), [1, 3, 5]),
        (ExportFilter(decision="deny"), [3]),
        (ExportFilter(sub="bob", decision="allow"), [2, 4]),
        (ExportFilter(sub="nobody"), []),
    ],
)
def test_export_filters(audit_db: Path, filters: ExportFilter, expected: list[int]) -> None:
    assert [r["seq"] for r in export(audit_db, filters)] == expected


def test_recent_returns_the_last_records_oldest_first(audit_db: Path) -> None:
    conn = open_log(audit_db)
    assert [e["seq"] for e in recent(conn, 2)] == [4, 5]
    assert len(recent(conn, 100)) == 5
    conn.close()


def test_parse_time() -> None:
    assert parse_time("2027-01-15T08:00:00Z") == 1_800_000_000.0
    assert parse_time("2027-01-15T08:00:00") == 1_800_000_000.0  # no zone: UTC
    assert parse_time("2027-01-15T09:00:00+01:00") == 1_800_000_000.0
    assert parse_time("2027-01-15") == 1_799_971_200.0
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_time("yesterday")


def test_a_file_that_is_not_an_audit_log_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    sqlite3.connect(path).execute("CREATE TABLE t (x)")
    with pytest.raises(AuditStoreError, match="not a Skein audit log"):
        open_log(path)
