"""Operator queries and retention on the Postgres audit log.

Query: newest first, filtered by time range, principal, role, decision, reason, model and status,
paged by keyset (``before`` = the ``pos`` of the last row seen), so page 1000 costs what page
1 costs. Every filter has an index (``0001_audit.sql``, status: ``0004_audit_status.sql``).

Prune: retention must keep each chain verifiable, so it removes only a *prefix* of each
chain (records are written in completion order, so a long stream started earlier may sit
after a newer record) and stores the last removed ``(seq, hash)`` as the chain's anchor,
where ``verify`` then starts. Rows, anchor and nothing else change in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson

from gateway.db.audit_read import open_reader

_PRUNE_BOUNDS = """
SELECT e.instance_id, max(e.seq) AS last_cut
FROM audit_events e
LEFT JOIN (
    SELECT instance_id, min(seq) AS first_kept FROM audit_events WHERE ts >= $1 GROUP BY instance_id
) k USING (instance_id)
WHERE e.ts < $1 AND (k.first_kept IS NULL OR e.seq < k.first_kept)
GROUP BY e.instance_id
"""
_PRUNE_LOCK = 0x736B65696E01  # one scheduled prune at a time across replicas
_SET_ANCHOR = (
    "INSERT INTO audit_anchors (instance_id, seq, hash) VALUES ($1, $2, $3)"
    " ON CONFLICT (instance_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash"
)


@dataclass(frozen=True, slots=True)
class QueryFilter:
    since: float | None = None  # unix seconds, inclusive
    until: float | None = None  # exclusive
    sub: str | None = None
    role: str | None = None
    decision: str | None = None  # "allow" | "deny"
    reason: str | None = None  # the main (first) reason code
    model: str | None = None  # served, else requested
    status_min: int | None = None  # HTTP status returned, inclusive range (``parse_status``)
    status_max: int | None = None
    tool: str | None = None  # the MCP tool a message named
    decision_id: str | None = None
    decided: bool | None = None  # True: only events that carry a decision id
    before: int | None = None  # paging: only rows stored before this pos

    def where(self) -> tuple[str, list[Any]]:
        """A WHERE clause from fixed fragments; values are always bound parameters."""
        clauses: list[str] = []
        params: list[Any] = []
        for fragment, value in (
            ("ts >= $", self.since),
            ("ts < $", self.until),
            ("sub = $", self.sub),
            ("roles @> ARRAY[$::text]", self.role),
            ("decision = $", self.decision),
            ("reason = $", self.reason),
            ("model = $", self.model),
            ("status >= $", self.status_min),
            ("status <= $", self.status_max),
            ("tool = $", self.tool),
            ("decision_id = $", self.decision_id),
            ("pos < $", self.before),
        ):
            if value is not None:
                params.append(value)
                clauses.append(fragment.replace("$", f"${len(params)}"))
        if self.decided:
            clauses.append("decision_id IS NOT NULL")
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


@dataclass(frozen=True, slots=True)
class Page:
    events: list[dict[str, Any]]
    next_before: int | None  # pass as ``before`` for the next page; None on the last page


async def query(conn: asyncpg.Connection, filters: QueryFilter, limit: int) -> Page:
    where, params = filters.where()
    sql = f"SELECT pos, event FROM audit_events{where} ORDER BY pos DESC LIMIT ${len(params) + 1}"
    rows = await conn.fetch(sql, *params, limit)
    events = [orjson.loads(row["event"]) for row in rows]
    return Page(events, rows[-1]["pos"] if len(rows) == limit else None)


async def query_postgres(dsn: str, schema: str, filters: QueryFilter, limit: int) -> Page:
    conn = await open_reader(dsn, schema)
    try:
        return await query(conn, filters, limit)
    finally:
        await conn.close()


async def prune(conn: asyncpg.Connection, older_than: float, *, skip_if_busy: bool = False) -> dict[str, int]:
    """Remove each chain's prefix of records before ``older_than``; returns counts per chain.

    ``skip_if_busy``: when another session is pruning (another replica's scheduled job),
    return at once with nothing done rather than queue behind it.
    """
    removed: dict[str, int] = {}
    async with conn.transaction():
        if skip_if_busy and not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", _PRUNE_LOCK):
            return removed
        for bound in await conn.fetch(_PRUNE_BOUNDS, older_than):
            instance_id, last_cut = bound["instance_id"], bound["last_cut"]
            event = await conn.fetchval(
                "SELECT event FROM audit_events WHERE instance_id = $1 AND seq = $2", instance_id, last_cut
            )
            await conn.execute(_SET_ANCHOR, instance_id, last_cut, orjson.loads(event)["hash"])
            status = await conn.execute(
                "DELETE FROM audit_events WHERE instance_id = $1 AND seq <= $2", instance_id, last_cut
            )
            removed[instance_id] = int(status.split()[-1])
    return removed


async def prune_postgres(dsn: str, schema: str, older_than: float) -> dict[str, int]:
    conn = await open_reader(dsn, schema)
    try:
        return await prune(conn, older_than)
    finally:
        await conn.close()
