from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.audit.event import AuditEvent
from gateway.audit.sqlite import SqliteSink
from gateway.audit.verify import verify_sqlite
from gateway.audit.writer import AuditWriter
from gateway.metrics import Metrics
from gateway.settings import AuditSettings

Factory = Callable[..., AuditEvent]


class FakeSink:
    """Records batches; can be held shut (``gate``) or made to fail a number of times."""

    instance_id = "fake"

    def __init__(self, failures: int = 0) -> None:
        self.batches: list[list[str]] = []
        self.failures = failures
        self.calls = 0
        self.gate = asyncio.Event()
        self.gate.set()
        self.closed = False
        self.opened = False

    async def open(self) -> None:
        self.opened = True

    async def append(self, batch: list[AuditEvent]) -> None:
        self.calls += 1
        await self.gate.wait()
        if self.failures:
            self.failures -= 1
            raise OSError("disk on fire")
        self.batches.append([e.id for e in batch])

    async def close(self) -> None:
        self.closed = True

    @property
    def written(self) -> list[str]:
        return [event_id for batch in self.batches for event_id in batch]


def make_writer(
    sink: FakeSink,
    metrics: Metrics | None = None,
    *,
    queue: int = 1000,
    batch: int = 100,
    flush_ms: int = 5,
    **kwargs: float,
) -> AuditWriter:
    settings = AuditSettings(queue_size=queue, batch_size=batch, flush_interval_ms=flush_ms)
    options = {"retry_initial_s": 0.001, "retry_max_s": 0.01, **kwargs}
    return AuditWriter(sink, settings, metrics or Metrics(process=False), **options)  # type: ignore[arg-type]


def sample(metrics: Metrics, result: str) -> float:
    return metrics.registry.get_sample_value("skein_audit_events_total", {"result": result}) or 0.0


def ids(count: int) -> list[str]:
    return [f"ev-{i}" for i in range(count)]


async def test_submit_is_synchronous_and_never_waits_for_the_sink(make_event: Factory) -> None:
    sink = FakeSink()
    sink.gate.clear()  # the database is stuck
    writer = make_writer(sink)
    await writer.start()
    started = time.perf_counter()
    for i in range(500):
        writer.submit(make_event(i))  # a plain call: nothing to await
    assert time.perf_counter() - started < 0.1
    assert writer.depth == 500
    sink.gate.set()
    await writer.close()
    assert sink.written == ids(500)
    assert sink.closed


async def test_events_are_written_in_batches(make_event: Factory) -> None:
    sink = FakeSink()
    writer = make_writer(sink, batch=10, flush_ms=50)
    await writer.start()
    for i in range(25):
        writer.submit(make_event(i))
    await writer.close()
    assert [len(b) for b in sink.batches] == [10, 10, 5]


async def test_a_partial_batch_is_flushed_after_the_interval(make_event: Factory) -> None:
    sink = FakeSink()
    writer = make_writer(sink, batch=100, flush_ms=10)
    await writer.start()
    for i in range(3):
        writer.submit(make_event(i))
    await asyncio.sleep(0.005)
    assert sink.batches == []  # still gathering
    await asyncio.sleep(0.05)
    assert sink.batches == [ids(3)]
    await writer.close()


async def test_close_drains_queue_and_overflow_in_order(make_event: Factory) -> None:
    sink = FakeSink()
    sink.gate.clear()
    writer = make_writer(sink, queue=5, batch=4, overflow_limit=100)
    await writer.start()
    for i in range(60):
        writer.submit(make_event(i))
    sink.gate.set()
    await writer.close()
    assert sink.written == ids(60)
    assert writer.dropped == 0


async def test_a_failing_sink_is_retried_and_nothing_is_lost(
    make_event: Factory, caplog: pytest.LogCaptureFixture
) -> None:
    metrics = Metrics(process=False)
    sink = FakeSink(failures=3)
    writer = make_writer(sink, metrics, batch=10)
    await writer.start()
    with caplog.at_level(logging.WARNING, logger="skein.audit"):
        for i in range(20):
            writer.submit(make_event(i))
        await writer.close()
    assert sink.written == ids(20)
    assert sample(metrics, "written") == 20
    assert sample(metrics, "failed") >= 3
    assert sample(metrics, "dropped") == 0
    assert "audit sink failed" in caplog.text
    assert "recovered" in caplog.text


async def test_healthy_follows_the_sink(make_event: Factory) -> None:
    sink = FakeSink(failures=10**6)
    writer = make_writer(sink)
    assert not writer.healthy  # not started
    await writer.start()
    assert writer.healthy
    writer.submit(make_event(1))
    await asyncio.sleep(0.03)
    assert not writer.healthy
    sink.failures = 0
    await asyncio.sleep(0.05)
    assert writer.healthy
    await writer.close()
    assert sink.written == ["ev-1"]
    assert not writer.healthy  # closed


async def test_beyond_the_overflow_events_are_dropped_loudly(
    make_event: Factory, caplog: pytest.LogCaptureFixture
) -> None:
    metrics = Metrics(process=False)
    sink = FakeSink()
    sink.gate.clear()
    writer = make_writer(sink, metrics, queue=2, overflow_limit=3)
    await writer.start()
    with caplog.at_level(logging.ERROR, logger="skein.audit"):
        for i in range(10):
            writer.submit(make_event(i))
    assert writer.dropped == 5
    assert sample(metrics, "dropped") == 5
    assert not writer.healthy
    assert "AUDIT EVENTS LOST" in caplog.text
    sink.gate.set()
    await writer.close()
    assert sink.written == ids(5)


async def test_close_gives_up_on_a_dead_sink_after_its_timeout(make_event: Factory) -> None:
    metrics = Metrics(process=False)
    sink = FakeSink(failures=10**6)
    writer = make_writer(sink, metrics)
    await writer.start()
    for i in range(7):
        writer.submit(make_event(i))
    await asyncio.wait_for(writer.close(timeout_s=0.05), timeout=2)
    assert writer.dropped == 7
    assert sample(metrics, "dropped") == 7
    assert sink.closed


async def test_events_before_start_are_kept_and_after_close_counted(make_event: Factory) -> None:
    metrics = Metrics(process=False)
    sink = FakeSink()
    writer = make_writer(sink, metrics)
    writer.submit(make_event(0))
    await writer.start()
    writer.submit(make_event(1))
    await writer.close()
    assert sink.written == ids(2)
    writer.submit(make_event(2))
    assert writer.dropped == 1
    assert sample(metrics, "dropped") == 1
    await writer.close()  # a second close is harmless


async def test_queue_depth_metric(make_event: Factory) -> None:
    metrics = Metrics(process=False)
    sink = FakeSink(failures=10**6)
    writer = make_writer(sink, metrics)
    await writer.start()
    for i in range(3):
        writer.submit(make_event(i))
    await asyncio.sleep(0.03)
    assert metrics.registry.get_sample_value("skein_audit_queue_depth") == 3  # held while failing
    sink.failures = 0
    await asyncio.sleep(0.03)
    assert metrics.registry.get_sample_value("skein_audit_queue_depth") == 0
    await writer.close()


async def test_with_the_sqlite_sink_the_log_verifies(tmp_path: Path, make_event: Factory) -> None:
    metrics = Metrics(process=False)
    sink = SqliteSink(tmp_path / "audit.db", "replica-1")
    writer = AuditWriter(sink, AuditSettings(batch_size=64, flush_interval_ms=5), metrics)
    await writer.start()
    for i in range(300):
        writer.submit(make_event(i))
        if i % 100 == 0:
            await asyncio.sleep(0.01)
    await writer.close()
    report = verify_sqlite(tmp_path / "audit.db")
    assert report.ok, report.summary()
    assert report.records == 300
    assert sample(metrics, "written") == 300
