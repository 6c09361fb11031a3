"""Postgres outages behind the spool: cuts, hangs, a start while it is down, a killed gateway.

The database sits behind a TCP proxy (``tests/support/tcpproxy.py``): ``stop()`` resets every
connection and refuses new ones, ``pause()`` accepts and never answers.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from gateway.audit.postgres import PostgresSink
from gateway.audit.spool import Spool
from gateway.audit.writer import AuditWriter
from gateway.db.audit_read import verify_postgres
from gateway.metrics import Metrics
from gateway.settings import AuditSettings
from tests.audit.conftest import build_event
from tests.audit.test_postgres import sql
from tests.support.server import REPO
from tests.support.tcpproxy import TcpProxy

pytestmark = pytest.mark.postgres


def via(dsn: str, port: int) -> str:
    """``dsn`` with its host and port replaced by the local proxy."""
    parts = urlsplit(dsn)
    user = f"{parts.username}@" if parts.username else ""
    return urlunsplit(parts._replace(netloc=f"{user}127.0.0.1:{port}"))


@pytest.fixture
async def proxy(postgres_dsn: str) -> AsyncIterator[TcpProxy]:
    parts = urlsplit(postgres_dsn)
    p = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    await p.start()
    yield p
    await p.stop()


def make_writer(dsn: str, schema: str, tmp: Path, **extra: float) -> AuditWriter:
    settings = AuditSettings(
        sink="postgres",
        postgres_dsn=dsn,
        postgres_schema=schema,
        flush_interval_ms=5,
        postgres_timeout_seconds=extra.pop("timeout", 2.0),
    )
    sink = PostgresSink(settings, "gw-1")
    spool = Spool(tmp / "spool-gw-1.ndjson", 1 << 26)
    return AuditWriter(sink, spool, settings, Metrics(process=False), retry_initial_s=0.02, retry_max_s=0.1)


async def stored_seqs(dsn: str, schema: str) -> list[int]:
    rows = await sql(dsn, schema, "SELECT seq FROM audit_events WHERE instance_id = 'gw-1' ORDER BY pos")
    return [r["seq"] for r in rows]


async def until(condition: Callable[[], bool], seconds: float = 20) -> None:
    async with asyncio.timeout(seconds):
        while not condition():
            await asyncio.sleep(0.01)


async def test_a_cut_is_answered_from_the_spool_loudly_and_shipped_after(
    postgres_dsn: str, pg_schema: str, proxy: TcpProxy, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    writer = make_writer(via(postgres_dsn, proxy.port), pg_schema, tmp_path)
    await writer.start()
    for i in range(1, 51):
        await writer.record(build_event(i))
    await until(lambda: writer.depth == 0)
    with caplog.at_level(logging.WARNING, logger="skein.audit"):
        await proxy.stop()  # connections reset, new ones refused
        for i in range(51, 151):
            await writer.record(build_event(i))  # every call is still answered
        await until(lambda: bool(writer.problems()))
        assert "audit store failed" in caplog.text  # a warning at the first failure, resets included
    assert writer.healthy and not writer.store_up
    await proxy.start()
    await until(lambda: writer.depth == 0 and writer.store_up)
    await writer.close()
    assert await stored_seqs(postgres_dsn, pg_schema) == list(range(1, 151))
    report = await verify_postgres(postgres_dsn, pg_schema)
    assert report.ok and report.records == 150, report.summary()


async def test_a_hung_server_never_holds_a_call_and_turns_into_a_failure(
    postgres_dsn: str, pg_schema: str, proxy: TcpProxy, tmp_path: Path
) -> None:
    writer = make_writer(via(postgres_dsn, proxy.port), pg_schema, tmp_path, timeout=0.3)
    await writer.start()
    proxy.pause()
    async with asyncio.timeout(10):  # liveness only: record() never waits for the store
        for i in range(1, 21):
            await writer.record(build_event(i))
    await until(lambda: bool(writer.problems()))  # the hang shows within the store timeout
    proxy.resume()
    await until(lambda: writer.depth == 0)
    await writer.close()
    report = await verify_postgres(postgres_dsn, pg_schema)
    assert report.ok and report.records == 20, report.summary()


async def test_a_restart_during_an_outage_serves_and_stores_nothing_twice(
    postgres_dsn: str, pg_schema: str, proxy: TcpProxy, tmp_path: Path
) -> None:
    dsn = via(postgres_dsn, proxy.port)
    first = make_writer(dsn, pg_schema, tmp_path)
    await first.start()
    for i in range(1, 31):
        await first.record(build_event(i))
    await until(lambda: first.depth == 0)
    await first.close()

    await proxy.stop()
    second = make_writer(dsn, pg_schema, tmp_path)
    await second.start()  # Postgres is down: the spool knows the chain head
    assert second.healthy and second.problems()  # degraded, with the reason
    for i in range(31, 41):
        await second.record(build_event(i))
    await proxy.start()
    await until(lambda: second.depth == 0 and second.store_up)
    await second.close()
    assert await stored_seqs(postgres_dsn, pg_schema) == list(range(1, 41))  # 1..30 not again
    report = await verify_postgres(postgres_dsn, pg_schema)
    assert report.ok, report.summary()


async def test_a_new_spool_with_postgres_down_refuses_to_start(
    postgres_dsn: str, pg_schema: str, proxy: TcpProxy, tmp_path: Path
) -> None:
    await proxy.stop()
    writer = make_writer(via(postgres_dsn, proxy.port), pg_schema, tmp_path, timeout=0.5)
    with pytest.raises(Exception, match="where the chain continues is unknown"):
        await writer.start()


_KILLED_WRITER = """
import asyncio, sys
from pathlib import Path
from gateway.audit.postgres import PostgresSink
from gateway.audit.spool import Spool
from gateway.audit.writer import AuditWriter
from gateway.metrics import Metrics
from gateway.settings import AuditSettings
from tests.audit.conftest import build_event

async def main() -> None:
    settings = AuditSettings(
        sink="postgres", postgres_dsn=sys.argv[1], postgres_schema=sys.argv[2], flush_interval_ms=5
    )
    spool = Spool(Path(sys.argv[3]), 1 << 26)
    writer = AuditWriter(PostgresSink(settings, "gw-1"), spool, settings, Metrics(process=False))
    await writer.start()
    i = 0
    while True:
        i += 1
        await writer.record(build_event(i))
        print(i, flush=True)  # "answered": the record is in the spool

asyncio.run(main())
"""


async def test_after_sigkill_every_answered_record_reaches_postgres(
    postgres_dsn: str, pg_schema: str, proxy: TcpProxy, tmp_path: Path
) -> None:
    spool_path = tmp_path / "spool-gw-1.ndjson"
    child = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER, via(postgres_dsn, proxy.port), pg_schema, str(spool_path)],
        stdout=subprocess.PIPE,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert child.stdout is not None
    answered = 0
    try:
        while answered < 300:
            answered = int(await asyncio.to_thread(child.stdout.readline))
        await proxy.stop()  # the database goes away mid-load
        target = answered + 300
        while answered < target:
            answered = int(await asyncio.to_thread(child.stdout.readline))
    finally:
        child.send_signal(signal.SIGKILL)  # no shutdown at all
        child.wait()
    await proxy.start()

    writer = make_writer(postgres_dsn, pg_schema, tmp_path)
    await writer.start()
    await until(lambda: writer.depth == 0)
    await writer.close()
    seqs = await stored_seqs(postgres_dsn, pg_schema)
    assert seqs == list(range(1, len(seqs) + 1))
    assert len(seqs) >= answered  # everything answered, and perhaps one written but not answered
    report = await verify_postgres(postgres_dsn, pg_schema)
    assert report.ok, report.summary()
