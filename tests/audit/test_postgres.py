"""The Postgres audit store: migrations, the sink's chains, verify, export, the CLI."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

import pytest

from gateway.audit.export import ExportFilter
from gateway.audit.postgres import PostgresSink
from gateway.audit.sink import AuditStoreError
from gateway.cli.main import main
from gateway.db.audit_read import export_postgres, recent_postgres, verify_postgres
from gateway.db.migrate import SchemaError, check_schema, connect, latest_version, migrate
from gateway.settings import AuditSettings
from tests.audit.conftest import build_event
from tests.support.server import skein
from tests.support.services import unique_name

pytestmark = pytest.mark.postgres


def make_sink(dsn: str, schema: str, instance_id: str = "gw-1", **extra: Any) -> PostgresSink:
    settings = AuditSettings(sink="postgres", postgres_dsn=dsn, postgres_schema=schema, **extra)
    return PostgresSink(settings, instance_id)


async def sql(dsn: str, schema: str, query: str, *args: Any) -> Any:
    conn = await connect(dsn, schema)
    try:
        return await conn.fetch(query, *args)
    finally:
        await conn.close()


async def test_migrate_applies_each_version_once(postgres_dsn: str) -> None:
    schema = unique_name("skein_test")
    conn = await connect(postgres_dsn, schema)
    try:
        first = await migrate(conn, schema)
        again = await migrate(conn, schema)
        assert [m.version for m in first] == list(range(1, latest_version() + 1))
        assert again == []
        assert await check_schema(conn, schema) == latest_version()
    finally:
        await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await conn.close()


async def test_an_unmigrated_schema_is_refused_with_the_fix(postgres_dsn: str, tmp_path: Path) -> None:
    sink = make_sink(postgres_dsn, unique_name("skein_test"))
    with pytest.raises(AuditStoreError, match="run `skein db migrate` first"):
        await sink.open()


async def test_a_newer_schema_is_refused(postgres_dsn: str, pg_schema: str, tmp_path: Path) -> None:
    await sql(postgres_dsn, pg_schema, "INSERT INTO skein_migrations (version, name) VALUES (999, 'future')")
    with pytest.raises(AuditStoreError, match="newer than this gateway"):
        await make_sink(postgres_dsn, pg_schema).open()
    conn = await connect(postgres_dsn, pg_schema)
    try:
        with pytest.raises(SchemaError, match="upgrade the gateway"):
            await migrate(conn, pg_schema)
    finally:
        await conn.close()


async def test_replicas_write_their_own_chains_at_once(
    postgres_dsn: str, pg_schema: str, tmp_path: Path
) -> None:
    sinks = [make_sink(postgres_dsn, pg_schema, f"gw-{n}") for n in (1, 2)]
    for sink in sinks:
        await sink.open()

    async def write(sink: PostgresSink, offset: int) -> None:
        for start in range(0, 100, 10):
            await sink.append([build_event(offset + i) for i in range(start, start + 10)])

    await asyncio.gather(write(sinks[0], 0), write(sinks[1], 1000))
    for sink in sinks:
        await sink.close()

    report = await verify_postgres(postgres_dsn, pg_schema)
    assert report.ok, report.summary()
    assert report.records == 200
    assert [(c.instance_id, c.records) for c in report.chains] == [("gw-1", 100), ("gw-2", 100)]


async def test_a_restarted_sink_continues_its_chain(
    postgres_dsn: str, pg_schema: str, tmp_path: Path
) -> None:
    for start in (1, 6):
        sink = make_sink(postgres_dsn, pg_schema)
        await sink.open()
        await sink.append([build_event(i) for i in range(start, start + 5)])
        await sink.close()
    report = await verify_postgres(postgres_dsn, pg_schema)
    assert report.ok and report.chains[0].head.seq == 10


async def test_a_second_live_writer_of_one_chain_waits_and_never_forks(
    postgres_dsn: str, pg_schema: str, tmp_path: Path
) -> None:
    first = make_sink(postgres_dsn, pg_schema)
    await first.open()
    second = make_sink(postgres_dsn, pg_schema)
    try:
        await second.open()  # starts (the spool would hold its records) but never writes
        assert second.head is None
        with pytest.raises(AuditStoreError, match="chain 'gw-1' is locked by another session"):
            await second.append([build_event(1)])
        await first.append([build_event(1)])
    finally:
        await first.close()
    await second.append([build_event(2)])  # the lock is free: it continues the chain
    await second.close()
    report = await verify_postgres(postgres_dsn, pg_schema)
    assert report.ok and report.records == 2, report.summary()


async def test_verify_finds_an_edited_row(postgres_dsn: str, pg_schema: str, tmp_path: Path) -> None:
    sink = make_sink(postgres_dsn, pg_schema)
    await sink.open()
    await sink.append([build_event(i) for i in range(1, 6)])
    await sink.close()
    await sql(postgres_dsn, pg_schema, "UPDATE audit_events SET event = replace(event, 'alice', 'mallory')")
    report = await verify_postgres(postgres_dsn, pg_schema)
    assert report.problem is not None
    assert (report.problem.seq, report.problem.kind) == (1, "edited")


async def test_export_streams_filtered_records_and_recent(
    postgres_dsn: str, pg_schema: str, tmp_path: Path
) -> None:
    sink = make_sink(postgres_dsn, pg_schema)
    await sink.open()
    await sink.append([build_event(i) for i in range(1, 31)])
    await sink.close()

    out = io.BytesIO()
    count = await export_postgres(postgres_dsn, pg_schema, out, ExportFilter(sub="alice", decision="deny"))
    lines = out.getvalue().splitlines()
    assert count == len(lines) == 5  # odd multiples of 3 below 31: 3, 9, 15, 21, 27
    assert all(b'"sub":"alice"' in line for line in lines)
    latest = await recent_postgres(postgres_dsn, pg_schema, 3)
    assert [e["seq"] for e in latest] == [28, 29, 30]


async def test_cli_migrates_and_verifies(postgres_dsn: str, tmp_path: Path) -> None:
    schema = unique_name("skein_test")
    target = ["--dsn", postgres_dsn, "--schema", schema]
    try:
        migrated = await asyncio.to_thread(skein, "db", "migrate", *target)
        assert migrated.returncode == 0, migrated.stderr
        assert "applied 0001_audit" in migrated.stdout
        status = await asyncio.to_thread(skein, "db", "status", *target)
        assert status.returncode == 0 and "up to date" in status.stdout

        sink = make_sink(postgres_dsn, schema)
        await sink.open()
        await sink.append([build_event(i) for i in range(1, 4)])
        await sink.close()
        verified = await asyncio.to_thread(skein, "audit", "verify", *target)
        assert verified.returncode == 0, verified.stderr
        assert "intact: 3 records in 1 chain" in verified.stdout
    finally:
        await sql(postgres_dsn, schema, f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def test_cli_status_reports_an_unmigrated_schema(
    postgres_dsn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:  # in-process: a subprocess costs seconds
        main(["db", "status", "--dsn", postgres_dsn, "--schema", unique_name("skein_test")])
    assert exit_info.value.code == 1  # behind; unreachable is 3 (tests/cli/test_db_cmd.py)
    assert "run `skein db migrate` first" in capsys.readouterr().err


async def test_status_is_an_indexed_copy_that_filters_and_verifies(postgres_dsn: str, pg_schema: str) -> None:
    from gateway.db.audit_admin import QueryFilter, query_postgres

    sink = make_sink(postgres_dsn, pg_schema)
    await sink.open()
    await sink.append([build_event(i) for i in range(1, 10)])
    await sink.close()
    denied = await query_postgres(postgres_dsn, pg_schema, QueryFilter(status_min=400, status_max=499), 50)
    assert sorted(e["seq"] for e in denied.events) == [3, 6, 9]
    out = io.BytesIO()
    assert (
        await export_postgres(postgres_dsn, pg_schema, out, ExportFilter(status_min=200, status_max=200)) == 6
    )
    await sql(postgres_dsn, pg_schema, "UPDATE audit_events SET status = 200 WHERE seq = 6")
    report = await verify_postgres(postgres_dsn, pg_schema)
    assert report.problem is not None
    assert (report.problem.seq, report.problem.kind) == (6, "edited") and "status" in report.problem.detail
