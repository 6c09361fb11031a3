"""The decision_id and tool copies: stored, queried, checked by verify, filled on upgrade
(SQLite: a file from before them; Postgres: migration 0005, a corrupted record included)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from gateway.audit.event import AuditEvent, redacted_input
from gateway.audit.query import query_sqlite
from gateway.audit.sqlite import SqliteSink, connect
from gateway.audit.verify import verify_sqlite
from gateway.db.audit_admin import QueryFilter, query_postgres
from gateway.db.audit_read import verify_postgres
from gateway.db.migrate import connect as pg_connect
from gateway.db.migrate import migrate
from tests.audit.conftest import build_event
from tests.audit.test_postgres import make_sink


def events() -> list[AuditEvent]:
    return [
        build_event(i, decision_id=f"{i:024x}", resource={"tool": "search"} if i % 2 else {})
        for i in range(1, 7)
    ]


async def test_sqlite_lookups_by_decision_and_tool(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    sink = SqliteSink(path)
    await sink.open()
    await sink.append(events())
    await sink.close()
    found = query_sqlite(path, QueryFilter(decision_id=f"{4:024x}"), 5).events
    assert [e["seq"] for e in found] == [4]
    assert [e["seq"] for e in query_sqlite(path, QueryFilter(tool="search"), 10).events] == [5, 3, 1]
    assert verify_sqlite(path).ok

    db = sqlite3.connect(path)
    db.execute("UPDATE audit_events SET tool = 'other' WHERE seq = 3")
    db.commit()
    db.close()
    problem = verify_sqlite(path).problem
    assert problem is not None and problem.kind == "edited" and "tool" in problem.detail


async def test_a_file_from_before_the_columns_is_filled_on_open(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    sink = SqliteSink(path)
    await sink.open()
    await sink.append(events())
    await sink.close()
    db = sqlite3.connect(path)  # what an older gateway left: no lookup columns
    db.executescript(
        "DROP INDEX audit_events_decision_id; DROP INDEX audit_events_tool;"
        " ALTER TABLE audit_events DROP COLUMN decision_id; ALTER TABLE audit_events DROP COLUMN tool;"
    )
    db.close()
    assert verify_sqlite(path).ok  # read-only: checks the columns that exist
    connect(path).close()  # a writable open (the gateway's) adds and fills them
    assert [e["seq"] for e in query_sqlite(path, QueryFilter(tool="search"), 10).events] == [5, 3, 1]
    assert verify_sqlite(path).ok


def test_the_recorded_input_keeps_no_identity_or_arguments() -> None:
    asked = {
        "principal": {"sub": "alice", "roles": ["finance"], "tenant": "acme"},
        "action": "tools.call",
        "resource": {"server": "files", "tool": "read", "arguments": {"path": "/home/alice"}},
        "time": "2026-01-01T00:00:00Z",
    }
    kept = redacted_input(asked)
    assert kept["principal"] == {"roles": ["finance"]}
    assert kept["resource"] == {"server": "files", "tool": "read"}
    assert kept["redacted"] == ["resource.arguments"]
    assert "alice" not in str(kept)
    assert asked["resource"]["arguments"] == {"path": "/home/alice"}  # the live input is untouched
    read = redacted_input({"action": "resources.read", "resource": {"server": "files", "uri": "file:///a"}})
    assert read["resource"] == {"server": "files"} and read["redacted"] == ["resource.uri"]


@pytest.mark.postgres
async def test_postgres_migration_fills_the_columns_and_skips_a_corrupted_record(
    postgres_dsn: str, pg_schema: str
) -> None:
    sink = make_sink(postgres_dsn, pg_schema)
    await sink.open()
    await sink.append(events())
    await sink.close()
    # Back to version 4, with one record corrupted: the migration must not fail on it.
    conn = await pg_connect(postgres_dsn, pg_schema)
    try:
        await conn.execute(
            "ALTER TABLE audit_events DROP COLUMN decision_id, DROP COLUMN tool;"
            " DELETE FROM skein_migrations WHERE version = 5;"
            " UPDATE audit_events SET event = '{not json' WHERE seq = 6"
        )
        assert [m.version for m in await migrate(conn, pg_schema)] == [5]
    finally:
        await conn.close()
    found = await query_postgres(postgres_dsn, pg_schema, QueryFilter(tool="search"), 10)
    assert [e["seq"] for e in found.events] == [5, 3, 1]
    one = await query_postgres(postgres_dsn, pg_schema, QueryFilter(decision_id=f"{2:024x}"), 10)
    assert [e["seq"] for e in one.events] == [2]
    report = await verify_postgres(postgres_dsn, pg_schema)
    assert report.problem is not None and report.problem.seq == 6  # reported, not a failed migration


def test_explain_keeps_messages_and_the_policys_own_answer() -> None:
    from gateway.domain import Decision
    from gateway.errors import Forbidden, Reason
    from gateway.trail import Trail

    trail = Trail(route="/v1/chat/completions", action="chat")
    said = Decision(
        allow=True, reasons=(Reason("model_downshifted", "budget: gpt-4o-mini instead"),), model="gpt-4o-mini"
    )
    refused = Reason("decision_invalid", "the policy's decision was refused: provider not allowed")
    trail.policy_decision, trail.decision = said, Decision(allow=False, reasons=(refused,))
    trail.fail(Forbidden(refused.message, reason=refused.code, reasons=[refused]))
    explain = trail.to_event("gw").explain
    assert explain["reasons"] == [refused.as_dict()]  # the caller's reasons, once
    assert explain["decision"]["allow"] is True and explain["decision"]["overruled"] is True
    assert explain["decision"]["reasons"] == ["model_downshifted"]
