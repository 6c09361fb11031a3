"""Operator queries and retention over the embedded SQLite audit log, with the same
semantics as the Postgres ones (``gateway.db.audit_admin``): queries newest first with keyset
paging on ``pos``; pruning removes only a prefix of each chain and keeps its last record's
``(seq, hash)`` as the chain's anchor, where ``verify`` then starts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from gateway.audit.export import open_log
from gateway.audit.sqlite import connect
from gateway.db.audit_admin import Page, QueryFilter

# Fixed fragments only; every value is a bound parameter.
_FRAGMENTS: tuple[tuple[str, str], ...] = (
    ("since", "ts >= ?"),
    ("until", "ts < ?"),
    ("sub", "sub = ?"),
    ("role", "EXISTS (SELECT 1 FROM json_each(event, '$.roles') WHERE value = ?)"),
    ("decision", "decision = ?"),
    ("reason", "reason = ?"),
    ("model", "model = ?"),
    ("status_min", "json_extract(event, '$.status') >= ?"),
    ("status_max", "json_extract(event, '$.status') <= ?"),
    ("tool", "tool = ?"),
    ("decision_id", "decision_id = ?"),
    ("before", "pos < ?"),
)


def query_sqlite(path: Path, filters: QueryFilter, limit: int) -> Page:
    clauses, params = [], []
    for field, fragment in _FRAGMENTS:
        value = getattr(filters, field)
        if value is not None:
            clauses.append(fragment)
            params.append(value)
    if filters.decided:
        clauses.append("decision_id IS NOT NULL")
    where = " WHERE " + " AND ".join(clauses) if clauses else ""
    conn = open_log(path)
    try:
        rows = conn.execute(
            f"SELECT pos, event FROM audit_events{where} ORDER BY pos DESC LIMIT ?", [*params, limit]
        ).fetchall()
    finally:
        conn.close()
    events: list[dict[str, Any]] = [orjson.loads(event) for _, event in rows]
    return Page(events, rows[-1][0] if len(rows) == limit else None)


def prune_sqlite(path: Path, older_than: float) -> dict[str, int]:
    """Delete each chain's records older than ``older_than`` (unix seconds), as a prefix."""
    conn = connect(path)
    removed: dict[str, int] = {}
    try:
        conn.execute("BEGIN IMMEDIATE")
        for instance_id, last_cut in conn.execute(_PRUNE_BOUNDS, (older_than, older_than)).fetchall():
            (event,) = conn.execute(
                "SELECT event FROM audit_events WHERE instance_id = ? AND seq = ?", (instance_id, last_cut)
            ).fetchone()
            anchor_hash = orjson.loads(event)["hash"]
            cursor = conn.execute(
                "DELETE FROM audit_events WHERE instance_id = ? AND seq <= ?", (instance_id, last_cut)
            )
            conn.execute(
                "INSERT INTO audit_anchors (instance_id, seq, hash) VALUES (?, ?, ?)"
                " ON CONFLICT (instance_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
                (instance_id, last_cut, anchor_hash),
            )
            removed[instance_id] = cursor.rowcount
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    finally:
        conn.close()
    return removed


# Per chain, the last seq of the prefix that is entirely older than the cutoff: records are
# written in completion order, so a long stream that started earlier may sit after a newer one.
_PRUNE_BOUNDS = """
SELECT e.instance_id, max(e.seq)
FROM audit_events e
LEFT JOIN (
    SELECT instance_id, min(seq) AS first_kept FROM audit_events WHERE ts >= ? GROUP BY instance_id
) k ON k.instance_id = e.instance_id
WHERE e.ts < ? AND (k.first_kept IS NULL OR e.seq < k.first_kept)
GROUP BY e.instance_id
"""
