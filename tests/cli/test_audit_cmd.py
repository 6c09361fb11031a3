"""``skein audit``: the status filter, ``--json`` on verify and tail, exit 3 for Postgres."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import pytest

from gateway.cli.common import EXIT_OK, EXIT_UNAVAILABLE
from tests.audit.conftest import build_event, write_log
from tests.cli.conftest import Run


@pytest.fixture()
def audit_log(tmp_path: Path) -> Path:
    path = tmp_path / "audit.db"
    asyncio.run(write_log(path, 6))  # events 3 and 6 are 403s, the others 200s
    return path


def test_query_by_status(skein: Run, audit_log: Path) -> None:
    code, out, _ = skein("audit", "query", "--db", str(audit_log), "--status", "403", "--json")
    events = [json.loads(line) for line in out.splitlines()]
    assert code == EXIT_OK and [e["id"] for e in events] == ["ev-6", "ev-3"]
    _, out, _ = skein("audit", "query", "--db", str(audit_log), "--status", "200", "--sub", "alice", "--json")
    assert [json.loads(line)["id"] for line in out.splitlines()] == ["ev-5", "ev-1"]


def test_export_by_status(skein: Run, audit_log: Path, tmp_path: Path) -> None:
    out = tmp_path / "denied.ndjson"
    assert (
        skein("audit", "export", "--db", str(audit_log), "--status", "403", "--out", str(out))[0] == EXIT_OK
    )
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == ["ev-3", "ev-6"]


def test_verify_and_tail_json(skein: Run, audit_log: Path) -> None:
    code, out, _ = skein("audit", "verify", "--db", str(audit_log), "--json")
    report = json.loads(out)
    assert code == EXIT_OK and report["ok"] is True and report["records"] == 6 and report["problem"] is None
    _, out, _ = skein("audit", "tail", "--db", str(audit_log), "-n", "2", "--json")
    assert [json.loads(line)["id"] for line in out.splitlines()] == ["ev-5", "ev-6"]


def test_an_unreachable_postgres_is_exit_3(skein: Run) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    code, _, err = skein(
        "audit", "tail", "--dsn", f"postgresql://postgres@127.0.0.1:{port}/test", "--schema", "x"
    )
    assert code == EXIT_UNAVAILABLE and "cannot connect to the Postgres audit store" in err


@pytest.mark.postgres
def test_query_by_status_on_postgres(skein: Run, postgres_dsn: str, pg_schema: str, tmp_path: Path) -> None:
    asyncio.run(write_postgres(postgres_dsn, pg_schema, tmp_path))
    argv = ("audit", "query", "--dsn", postgres_dsn, "--schema", pg_schema, "--status", "403", "--json")
    code, out, err = skein(*argv)
    assert code == EXIT_OK, err
    assert [json.loads(line)["id"] for line in out.splitlines()] == ["ev-6", "ev-3"]
    argv = ("audit", "export", "--dsn", postgres_dsn, "--schema", pg_schema, "--status", "403")
    code, out, err = skein(*argv)
    assert code == EXIT_OK, err
    assert [json.loads(line)["id"] for line in out.splitlines()] == ["ev-3", "ev-6"]


async def write_postgres(dsn: str, schema: str, tmp_path: Path) -> None:
    from gateway.audit.postgres import PostgresSink
    from gateway.settings import AuditSettings

    settings = AuditSettings(sink="postgres", postgres_dsn=dsn, postgres_schema=schema)
    sink = PostgresSink(settings, "cli-test")
    await sink.open()
    try:
        await sink.append([build_event(i) for i in range(1, 7)])
    finally:
        await sink.close()


def test_query_by_tool_and_decision_id(skein: Run, tmp_path: Path) -> None:
    from gateway.audit.sqlite import SqliteSink

    async def write(path: Path) -> None:
        sink = SqliteSink(path)
        await sink.open()
        events = [
            build_event(i, decision_id=f"{i:024x}", resource={"tool": "shell"} if i > 4 else {})
            for i in range(1, 7)
        ]
        await sink.append(events)
        await sink.close()

    path = tmp_path / "audit.db"
    asyncio.run(write(path))
    _, out, _ = skein("audit", "query", "--db", str(path), "--tool", "shell", "--json")
    assert [json.loads(line)["id"] for line in out.splitlines()] == ["ev-6", "ev-5"]
    _, out, _ = skein("audit", "query", "--db", str(path), "--decision-id", f"{2:024x}", "--json")
    assert [json.loads(line)["id"] for line in out.splitlines()] == ["ev-2"]
