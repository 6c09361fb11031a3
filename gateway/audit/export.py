"""Reading the audit log back: NDJSON export and the most recent records.

Export writes each stored record exactly as it was hashed, one per line, in storage order,
so an exported file can be checked against the chain (a filtered export is a subset and
will show gaps). Rows stream from the cursor to the file: memory stays flat at any size.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from gateway.audit.sink import AuditStoreError
from gateway.audit.sqlite import connect


@dataclass(frozen=True, slots=True)
class ExportFilter:
    since: float | None = None  # unix seconds, inclusive
    until: float | None = None  # unix seconds, exclusive
    sub: str | None = None
    decision: str | None = None  # "allow" | "deny"
    status_min: int | None = None  # HTTP status returned, inclusive range
    status_max: int | None = None

    def where(self, status: str = "json_extract(event, '$.status')") -> tuple[str, list[Any]]:
        """A WHERE clause from fixed fragments; values are always bound parameters.

        ``status``: how the store reads a record's status (Postgres has a column).
        """
        clauses: list[str] = []
        params: list[Any] = []
        for fragment, value in (
            ("ts >= ?", self.since),
            ("ts < ?", self.until),
            ("sub = ?", self.sub),
            ("decision = ?", self.decision),
            (f"{status} >= ?", self.status_min),
            (f"{status} <= ?", self.status_max),
        ):
            if value is not None:
                clauses.append(fragment)
                params.append(value)
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def parse_status(text: str) -> tuple[int, int]:
    """``429`` or a class such as ``4xx`` to an inclusive range of HTTP statuses."""
    value = text.strip().lower()
    if len(value) == 3 and value[0] in "12345" and value[1:] == "xx":
        low = int(value[0]) * 100
        return low, low + 99
    if len(value) == 3 and value.isdigit() and 100 <= int(value) <= 599:
        return int(value), int(value)
    raise ValueError(f"not an HTTP status such as 429 or 4xx: {text!r}")


def parse_time(text: str) -> float:
    """ISO 8601 date or date-time to unix seconds; a time without a zone is UTC."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"not an ISO 8601 date or time: {text!r}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def export_ndjson(conn: sqlite3.Connection, out: BinaryIO, filters: ExportFilter = ExportFilter()) -> int:
    """Write matching records to ``out`` as NDJSON; returns how many."""
    where, params = filters.where()
    count = 0
    for (event,) in conn.execute(f"SELECT event FROM audit_events{where} ORDER BY pos", params):
        out.write(event.encode() if isinstance(event, str) else event)
        out.write(b"\n")
        count += 1
    return count


def recent(conn: sqlite3.Connection, limit: int) -> list[dict[str, Any]]:
    """The last ``limit`` records, oldest first."""
    rows = conn.execute("SELECT event FROM audit_events ORDER BY pos DESC LIMIT ?", (limit,)).fetchall()
    return [orjson.loads(event) for (event,) in reversed(rows)]


def open_log(path: Path) -> sqlite3.Connection:
    """A read-only connection, with SQLite failures translated."""
    try:
        return connect(path, readonly=True)
    except sqlite3.Error as exc:
        raise AuditStoreError(f"cannot read audit log {path}: {exc}") from exc
