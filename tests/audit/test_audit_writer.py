"""The audit writer: durable in the spool before ``record`` returns, shipped to the store later."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from gateway.audit.chain import ChainHead, StampedRecord
from gateway.audit.event import AuditEvent
from gateway.audit.sink import continuing
from gateway.audit.spool import Spool
from gateway.audit.sqlite import SqliteSink
from gateway.audit.verify import verify_sqlite
from gateway.audit.writer import AuditWriter
from gateway.errors import Unavailable
from gateway.metrics import Metrics
from gateway.settings import AuditSettings

Factory = Callable[..., AuditEvent]


GENESIS = ChainHead()


class FakeSink:
    """A store in memory: can be held shut (``gate``), fail a number of times, or be unreachable."""

    instance_id = "fake"
    label = "fake"

    def __init__(self, failures: int = 0, head: ChainHead | None = GENESIS) -> None:
        self.stored: list[StampedRecord] = []
        self.batches: list[int] = []
        self.failures = failures
        self.gate = asyncio.Event()
        self.gate.set()
        self.closed = False
        self._head = head

    @property
    def head(self) -> ChainHead | None:
        return self._head

    async def open(self) -> None:
        pass

    async def store(self, records: Sequence[StampedRecord]) -> None:
        await self.gate.wait()
        if self.failures:
            self.failures -= 1
            raise OSError("connection reset by peer")
        fresh = continuing(records, self._head or ChainHead())
        if fresh:
            self.stored.extend(fresh)
            self.batches.append(len(fresh))
            self._head = fresh[-1].head

    async def close(self) -> None:
        self.closed = True

    @property
    def ids(self) -> list[str]:
        return [r.event["id"] for r in self.stored]


class CountingSpool(Spool):
    """The real spool, counting its fsyncs."""

    syncs = 0

    def sync(self) -> None:
        self.syncs += 1
        super().sync()


def make_writer(
    sink: FakeSink | SqliteSink,
    tmp: Path,
    metrics: Metrics | None = None,
    *,
    batch: int = 100,
    flush_ms: int = 5,
    spool_max: int = 1 << 24,
    fsync: bool = False,
) -> AuditWriter:
    settings = AuditSettings(batch_size=batch, flush_interval_ms=flush_ms, fsync=fsync)
    spool = CountingSpool(tmp / "spool.ndjson", spool_max, fsync=fsync)
    return AuditWriter(
        sink, spool, settings, metrics or Metrics(process=False), retry_initial_s=0.001, retry_max_s=0.01
    )


def sample(metrics: Metrics, result: str) -> float:
    return metrics.registry.get_sample_value("skein_audit_events_total", {"result": result}) or 0.0


def ids(count: int, start: int = 0) -> list[str]:
    return [f"ev-{i}" for i in range(start, start + count)]


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(10):
        while not condition():
            await asyncio.sleep(0.005)


def spooled_ids(tmp: Path) -> list[str]:
    lines = b"".join(p.read_bytes() for p in sorted(tmp.glob("spool.*.ndjson"))).splitlines()
    return [StampedRecord.parse(line).event["id"] for line in lines if b'"spool_head"' not in line]


async def test_record_returns_once_the_spool_holds_the_event(tmp_path: Path, make_event: Factory) -> None:
    sink = FakeSink()
    sink.gate.clear()  # the store is stuck: record() does not wait for it
    writer = make_writer(sink, tmp_path)
    await writer.start()
    for i in range(50):
        await writer.record(make_event(i))
        assert spooled_ids(tmp_path)[-1] == f"ev-{i}"  # on disk before record() returned
    assert writer.depth == 50 and sink.stored == []
    sink.gate.set()
    await writer.close()
    assert sink.ids == ids(50)
    assert [r.seq for r in sink.stored] == list(range(1, 51))


async def test_the_shipper_stores_in_batches(tmp_path: Path, make_event: Factory) -> None:
    metrics = Metrics(process=False)
    sink = FakeSink()
    sink.gate.clear()
    writer = make_writer(sink, tmp_path, metrics, batch=10)
    await writer.start()
    for i in range(25):
        await writer.record(make_event(i))
    sink.gate.set()
    await writer.close()
    assert sink.batches == [10, 10, 5]
    assert sample(metrics, "spooled") == sample(metrics, "written") == 25


async def test_a_failing_store_is_retried_loudly_and_nothing_is_lost(
    tmp_path: Path, make_event: Factory, caplog: pytest.LogCaptureFixture
) -> None:
    metrics = Metrics(process=False)
    sink = FakeSink(failures=10**6)
    writer = make_writer(sink, tmp_path, metrics, batch=10)
    await writer.start()
    with caplog.at_level(logging.WARNING, logger="skein.audit"):
        for i in range(20):
            await writer.record(make_event(i))  # answered from the spool while the store fails
        await until(lambda: sample(metrics, "failed") > 0)
        assert writer.healthy  # calls are still answered: degraded, not unready
        assert writer.problems() and "connection reset by peer" in writer.problems()[0]
        assert "20 records wait in the local spool" in writer.problems()[0]
        assert not writer.store_up
        assert "audit store failed" in caplog.text  # a warning at the first failure
        sink.failures = 0
        await until(lambda: writer.depth == 0)
        assert "recovered" in caplog.text
    assert writer.problems() == [] and writer.store_up
    await writer.close()
    assert sink.ids == ids(20)
    assert sample(metrics, "dropped") == 0


async def test_gauges_read_the_backlog_at_scrape_time(tmp_path: Path, make_event: Factory) -> None:
    metrics = Metrics(process=False)
    sink = FakeSink()
    sink.gate.clear()
    writer = make_writer(sink, tmp_path, metrics)
    metrics.watch_audit(depth=lambda: writer.depth, spool_bytes=lambda: writer.spool_bytes)
    await writer.start()
    for i in range(3):
        await writer.record(make_event(i))
    assert metrics.registry.get_sample_value("skein_audit_queue_depth") == 3
    assert (metrics.registry.get_sample_value("skein_audit_spool_bytes") or 0) > 1000
    sink.gate.set()
    await until(lambda: writer.depth == 0)
    assert metrics.registry.get_sample_value("skein_audit_queue_depth") == 0
    await writer.close()


async def test_a_full_spool_refuses_the_call_until_the_store_catches_up(
    tmp_path: Path, make_event: Factory
) -> None:
    metrics = Metrics(process=False)
    sink = FakeSink()
    sink.gate.clear()
    writer = make_writer(sink, tmp_path, metrics, spool_max=4000)
    await writer.start()
    accepted = 0
    with pytest.raises(Unavailable) as refused:
        for i in range(100):
            await writer.record(make_event(i))
            accepted += 1
    assert refused.value.reason == "audit_unavailable" and refused.value.status == 503
    assert 0 < accepted < 100
    assert not writer.healthy and sample(metrics, "refused") == 1
    sink.gate.set()
    await until(lambda: writer.depth == 0)
    await writer.record(make_event(1000))  # room again
    assert writer.healthy
    await writer.close()
    assert sink.ids == [*ids(accepted), "ev-1000"]  # the refused one left no trace in the chain


async def test_a_disk_error_refuses_the_call_and_leaves_the_chain_intact(
    tmp_path: Path, make_event: Factory
) -> None:
    sink = SqliteSink(tmp_path / "audit.db", "replica-1")
    writer = make_writer(sink, tmp_path)  # type: ignore[arg-type]
    await writer.start()
    await writer.record(make_event(1))
    real = writer._spool._fd  # the disk goes away under the spool
    writer._spool._fd = os.open(os.devnull, os.O_RDONLY)
    with pytest.raises(Unavailable):
        await writer.record(make_event(2))
    assert not writer.healthy and writer.problems()
    os.close(writer._spool._fd)
    writer._spool._fd = real
    await writer.record(make_event(3))
    await writer.close()
    report = verify_sqlite(tmp_path / "audit.db")
    assert report.ok and report.records == 2, report.summary()


async def test_close_leaves_what_the_store_refused_for_the_next_start(
    tmp_path: Path, make_event: Factory
) -> None:
    down = FakeSink(failures=10**6)
    writer = make_writer(down, tmp_path)
    await writer.start()
    for i in range(30):
        await writer.record(make_event(i))
    await asyncio.wait_for(writer.close(), 5)  # does not wait out a failing store
    assert down.stored == []

    store = FakeSink()  # the next start, with the store back
    writer = make_writer(store, tmp_path)
    await writer.start()
    assert writer.depth == 30
    await writer.record(make_event(30))
    await writer.close()
    assert store.ids == ids(31)
    assert [r.seq for r in store.stored] == list(range(1, 32))


async def test_the_spool_continues_the_chain_across_restarts(tmp_path: Path, make_event: Factory) -> None:
    sink = FakeSink()
    for start in (0, 5):
        writer = make_writer(sink, tmp_path)
        await writer.start()
        for i in range(start, start + 5):
            await writer.record(make_event(i))
        await writer.close()
    assert [r.seq for r in sink.stored] == list(range(1, 11))
    assert all(
        b.event["prev_hash"] == a.event["hash"] for a, b in zip(sink.stored, sink.stored[1:], strict=False)
    )


async def test_a_store_ahead_of_a_new_spool_gives_the_head(tmp_path: Path, make_event: Factory) -> None:
    sink = FakeSink(head=ChainHead(41, "ab" * 32))
    writer = make_writer(sink, tmp_path)
    await writer.start()
    await writer.record(make_event(1))
    await writer.close()
    assert sink.stored[0].seq == 42 and sink.stored[0].event["prev_hash"] == "ab" * 32


async def test_a_new_spool_and_an_unreachable_store_refuse_to_start(tmp_path: Path) -> None:
    writer = make_writer(FakeSink(head=None), tmp_path)
    with pytest.raises(Exception, match="where the chain continues is unknown"):
        await writer.start()
    assert not writer.healthy
    # An existing spool is enough: the next start serves while the store is down.
    first = make_writer(FakeSink(), tmp_path)
    await first.start()
    await first.close()
    second = make_writer(FakeSink(head=None), tmp_path)
    await second.start()
    assert second.healthy
    await second.close()


async def test_fsync_is_shared_by_concurrent_calls(tmp_path: Path, make_event: Factory) -> None:
    sink = FakeSink()
    writer = make_writer(sink, tmp_path, fsync=True)
    await writer.start()
    await asyncio.gather(*(writer.record(make_event(i)) for i in range(200)))
    spool = writer._spool
    assert isinstance(spool, CountingSpool)
    assert 1 <= spool.syncs <= 2  # one group commit for all 200 (the second: a later arrival)
    await writer.record(make_event(200))  # alone: its own fsync
    assert spool.syncs <= 3
    await writer.close()
    assert sink.ids == ids(201)


async def test_submit_spools_without_waiting_and_counts_loss_after_close(
    tmp_path: Path, make_event: Factory
) -> None:
    metrics = Metrics(process=False)
    sink = FakeSink()
    writer = make_writer(sink, tmp_path, metrics)
    writer.submit(make_event(0))  # before start: nowhere to put it
    await writer.start()
    writer.submit(make_event(1))
    assert spooled_ids(tmp_path) == ["ev-1"]
    await writer.close()
    writer.submit(make_event(2))
    assert writer.dropped == 2 and sample(metrics, "dropped") == 2
    assert sink.ids == ["ev-1"]
    with pytest.raises(Unavailable):
        await writer.record(make_event(3))
    await writer.close()  # a second close is harmless


async def test_with_the_sqlite_sink_the_log_verifies(tmp_path: Path, make_event: Factory) -> None:
    metrics = Metrics(process=False)
    sink = SqliteSink(tmp_path / "audit.db", "replica-1")
    writer = make_writer(sink, tmp_path, metrics, batch=64)  # type: ignore[arg-type]
    await writer.start()
    await asyncio.gather(*(writer.record(make_event(i)) for i in range(300)))
    await writer.close()
    report = verify_sqlite(tmp_path / "audit.db")
    assert report.ok, report.summary()
    assert report.records == 300
    assert sample(metrics, "written") == 300
