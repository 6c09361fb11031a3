"""No loss: the spool file, a Postgres outage mid-load, a slow server, a killed gateway."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from gateway.audit.postgres import PostgresSink
from gateway.audit.spool import Spool, SpoolFull
from gateway.audit.writer import AuditWriter
from gateway.db.audit_read import verify_postgres
from gateway.metrics import Metrics
from gateway.settings import AuditSettings
from tests.audit.conftest import build_event
from tests.audit.test_postgres import make_sink, sql
from tests.support.server import REPO
from tests.support.tcpproxy import TcpProxy


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


async def stored_seqs(dsn: str, schema: str) -> list[tuple[str, int]]:
    rows = await sql(dsn, schema, "SELECT instance_id, seq FROM audit_events ORDER BY pos")
    return [(r["instance_id"], r["seq"]) for r in rows]


async def until_replayed(sink: PostgresSink) -> None:
    deadline = time.monotonic() + 10
    while sink.spool.pending and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert not sink.spool.pending


# -- the spool file ----------------------------------------------------------------------------


def test_spool_appends_replays_in_order_and_clears(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.ndjson", 1 << 20)
    spool.open()
    spool.append([b'{"seq":1}', b'{"seq":2}'])
    spool.append([b'{"seq":3}'])
    assert [[r["seq"] for r in b] for b in spool.batches(2)] == [[1, 2], [3]]
    assert spool.last() == {"seq": 3}
    spool.clear()
    assert not spool.pending and (tmp_path / "s.ndjson").read_bytes() == b""


def test_a_torn_last_line_is_cut_on_open(tmp_path: Path) -> None:
    path = tmp_path / "s.ndjson"
    path.write_bytes(b'{"seq":1}\n{"seq":2}\n{"se')  # killed half-way through a write
    spool = Spool(path, 1 << 20)
    spool.open()
    spool.append([b'{"seq":3}'])
    assert [r["seq"] for b in spool.batches(10) for r in b] == [1, 2, 3]


def test_last_finds_a_long_last_record(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.ndjson", 1 << 20)
    spool.open()
    assert spool.last() is None
    spool.append([b'{"seq":1}', b'{"seq":2,"pad":"' + b"x" * 100_000 + b'"}'])
    last = spool.last()
    assert last is not None and last["seq"] == 2


def test_a_full_spool_refuses_the_batch(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.ndjson", 20)
    spool.open()
    spool.append([b'{"seq":1}'])
    with pytest.raises(SpoolFull, match="is full"):
        spool.append([b'{"seq":2}', b'{"seq":3}'])
    assert spool.size == 10


# -- outages -----------------------------------------------------------------------------------

pg = pytest.mark.postgres


@pg
async def test_an_outage_spools_and_replays_everything_in_order(
    postgres_dsn: str, pg_schema: str, proxy: TcpProxy, tmp_path: Path
) -> None:
    sink = make_sink(via(postgres_dsn, proxy.port), pg_schema, tmp_path, replay_interval_seconds=0.1)
    await sink.open()
    await sink.append([build_event(i) for i in range(1, 51)])
    await proxy.stop()  # the database goes away mid-load
    for start in range(51, 151, 10):
        await sink.append([build_event(i) for i in range(start, start + 10)])
    assert sink.spool.pending
    await proxy.start()
    await sink.append([build_event(i) for i in range(151, 161)])  # behind the spool, in order
    await until_replayed(sink)
    await sink.close()

    assert await stored_seqs(postgres_dsn, pg_schema) == [("gw-1", n) for n in range(1, 161)]
    report = await verify_postgres(postgres_dsn, pg_schema)
    assert report.ok and report.records == 160, report.summary()


@pg
async def test_an_idle_sink_replays_when_the_server_returns(
    postgres_dsn: str, pg_schema: str, proxy: TcpProxy, tmp_path: Path
) -> None:
    sink = make_sink(via(postgres_dsn, proxy.port), pg_schema, tmp_path, replay_interval_seconds=0.1)
    await sink.open()
    await proxy.stop()
    await sink.append([build_event(i) for i in range(1, 11)])
    await proxy.start()
    await until_replayed(sink)
    await sink.close()
    assert len(await stored_seqs(postgres_dsn, pg_schema)) == 10


@pg
async def test_a_slow_server_spills_after_the_timeout(
    postgres_dsn: str, pg_schema: str, proxy: TcpProxy, tmp_path: Path
) -> None:
    sink = make_sink(
        via(postgres_dsn, proxy.port),
        pg_schema,
        tmp_path,
        postgres_timeout_seconds=0.3,
        replay_interval_seconds=0.1,
    )
    await sink.open()
    proxy.pause()
    started = time.monotonic()
    await sink.append([build_event(i) for i in range(1, 6)])
    assert time.monotonic() - started < 2  # never a hang on the database
    assert sink.spool.pending
    proxy.resume()
    await sink.close()  # shutdown replays what it can
    report = await verify_postgres(postgres_dsn, pg_schema)
    assert report.ok and report.records == 5, report.summary()


@pg
async def test_a_full_spool_makes_the_writer_unhealthy(
    postgres_dsn: str, pg_schema: str, proxy: TcpProxy, tmp_path: Path
) -> None:
    settings = AuditSettings(
        sink="postgres",
        postgres_dsn=via(postgres_dsn, proxy.port),
        postgres_schema=pg_schema,
        flush_interval_ms=5,
    )
    sink = PostgresSink(settings, "gw-1", Spool(tmp_path / "spool.ndjson", 2000))
    writer = AuditWriter(sink, settings, Metrics(process=False), retry_initial_s=0.01, retry_max_s=0.05)
    await writer.start()
    await proxy.stop()
    for i in range(1, 40):
        writer.submit(build_event(i))
    deadline = time.monotonic() + 5
    while writer.healthy and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert not writer.healthy  # readiness fails: the replica leaves the load balancer
    await proxy.start()
    while not writer.healthy and time.monotonic() < deadline + 5:
        await asyncio.sleep(0.02)
    await writer.close()
    assert writer.dropped == 0
    report = await verify_postgres(postgres_dsn, pg_schema)
    assert report.ok and report.records == 39, report.summary()


_KILLED_WRITER = """
import asyncio, sys
from pathlib import Path
from gateway.audit.postgres import PostgresSink
from gateway.audit.spool import Spool
from gateway.settings import AuditSettings
from tests.audit.conftest import build_event

async def main() -> None:
    settings = AuditSettings(sink="postgres", postgres_dsn=sys.argv[1], postgres_schema=sys.argv[2])
    sink = PostgresSink(settings, "gw-1", Spool(Path(sys.argv[3]), 1 << 26))
    await sink.open()
    i = 0
    while True:
        await sink.append([build_event(n) for n in range(i + 1, i + 11)])
        i += 10
        if i == 200:
            print("ready", flush=True)

asyncio.run(main())
"""


@pg
async def test_after_sigkill_a_restart_replays_the_spool(
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
    await asyncio.to_thread(child.stdout.readline)  # 200 events are in the database
    await proxy.stop()  # the database goes down; events now go to the spool
    deadline = time.monotonic() + 10
    while (not spool_path.exists() or spool_path.stat().st_size < 20_000) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    child.send_signal(signal.SIGKILL)  # mid-write, without any shutdown
    child.wait()
    spooled = spool_path.read_bytes().count(b"\n")
    assert spooled >= 20
    await proxy.start()

    sink = make_sink(postgres_dsn, pg_schema, tmp_path)
    await sink.open()  # replays the spool before anything else
    await sink.append([build_event(100_000)])
    await sink.close()
    seqs = [seq for _, seq in await stored_seqs(postgres_dsn, pg_schema)]
    # Nothing lost, nothing twice: 200+ written directly, every spooled one, the new one.
    assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) >= 200 + spooled + 1
    report = await verify_postgres(postgres_dsn, pg_schema)
    assert report.ok, report.summary()
