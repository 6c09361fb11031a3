"""Operator queries and retention on the Postgres audit log."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from pathlib import Path

import pytest

from gateway.db.audit_admin import QueryFilter, prune_postgres, query_postgres
from gateway.db.audit_read import verify_postgres
from tests.audit.conftest import build_event
from tests.audit.test_postgres import make_sink, sql
from tests.support.server import skein

pytestmark = pytest.mark.postgres


async def fill(dsn: str, schema: str, tmp: Path, count: int = 30) -> None:
    sink = make_sink(dsn, schema)
    await sink.open()
    events = [build_event(i, roles=("finance",) if i % 2 else ("support",)) for i in range(1, count + 1)]
    await sink.append(events)
    await sink.close()


async def test_query_filters_and_pages_newest_first(
    postgres_dsn: str, pg_schema: str, tmp_path: Path
) -> None:
    await fill(postgres_dsn, pg_schema, tmp_path)
    denied = QueryFilter(role="finance", decision="deny", reason="model_not_allowed", model="gpt-4o")
    first = await query_postgres(postgres_dsn, pg_schema, denied, 3)
    assert [e["seq"] for e in first.events] == [27, 21, 15]
    assert first.next_before is not None
    rest = await query_postgres(postgres_dsn, pg_schema, replace(denied, before=first.next_before), 3)
    assert [e["seq"] for e in rest.events] == [9, 3] and rest.next_before is None
    window = await query_postgres(
        postgres_dsn, pg_schema, QueryFilter(since=1_800_000_010.0, until=1_800_000_012.0, sub="bob"), 10
    )
    assert [e["seq"] for e in window.events] == [10]


async def test_prune_keeps_every_chain_verifiable(postgres_dsn: str, pg_schema: str, tmp_path: Path) -> None:
    await fill(postgres_dsn, pg_schema, tmp_path)
    removed = await prune_postgres(postgres_dsn, pg_schema, 1_800_000_011.0)
    assert removed == {"gw-1": 10}
    report = await verify_postgres(postgres_dsn, pg_schema)
    assert report.ok and report.records == 20, report.summary()
    # The anchor still catches tampering with the first kept record's link.
    await sql(postgres_dsn, pg_schema, "UPDATE audit_anchors SET hash = repeat('1', 64)")
    report = await verify_postgres(postgres_dsn, pg_schema)
    assert report.problem is not None and report.problem.kind == "bad_genesis"


async def test_prune_removes_only_a_prefix(postgres_dsn: str, pg_schema: str, tmp_path: Path) -> None:
    sink = make_sink(postgres_dsn, pg_schema)
    await sink.open()
    # seq 2 is a long stream that started late but was written early: ts order != seq order.
    await sink.append([build_event(1), build_event(50), build_event(2), build_event(3)])
    await sink.close()
    assert await prune_postgres(postgres_dsn, pg_schema, 1_800_000_010.0) == {"gw-1": 1}
    report = await verify_postgres(postgres_dsn, pg_schema)
    assert report.ok and report.records == 3, report.summary()


async def test_cli_query_and_prune(postgres_dsn: str, pg_schema: str, tmp_path: Path) -> None:
    await fill(postgres_dsn, pg_schema, tmp_path, 4)
    target = ["--dsn", postgres_dsn, "--schema", pg_schema]
    found = await asyncio.to_thread(skein, "audit", "query", *target, "--sub", "alice", "--limit", "1")
    assert found.returncode == 0, found.stderr
    assert "alice" in found.stdout and "#3" in found.stdout and "more: --before" in found.stderr
    pruned = await asyncio.to_thread(skein, "audit", "prune", *target, "--older-than", "1d")
    assert pruned.returncode == 0, pruned.stderr
    assert "pruned 0 records" in pruned.stdout  # the sample events are dated 2027
    bad = await asyncio.to_thread(skein, "audit", "prune", *target, "--older-than", "soon")
    assert bad.returncode == 2


async def test_scheduled_retention_prunes_old_records(
    postgres_dsn: str, pg_schema: str, tmp_path: Path
) -> None:
    old = time.time() - 3 * 86400
    sink = make_sink(postgres_dsn, pg_schema, retention_days=1, replay_interval_seconds=0.05)
    await sink.open()
    await sink.append([build_event(i, ts=old + i) for i in range(1, 6)] + [build_event(6, ts=time.time())])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        rows = await sql(postgres_dsn, pg_schema, "SELECT count(*) AS n FROM audit_events")
        if rows[0]["n"] == 1:
            break
        await asyncio.sleep(0.05)
    await sink.close()
    report = await verify_postgres(postgres_dsn, pg_schema)
    assert report.ok and report.records == 1, report.summary()
