"""The audit writer: the request path hands events over, one task writes them in batches.

``submit`` is a ``put_nowait`` on a bounded queue: the request path never awaits the
database. One writer task drains the queue in batches (``batch_size`` events, or whatever
arrived within ``flush_interval_ms`` of the first one), so the sink pays one transaction and
one thread hop per batch, not per event.

When the sink cannot keep up or fails, nothing is dropped silently:

* a full queue spills into an in-memory overflow (bounded by ``overflow_limit``); once
  spilling, later events queue behind the overflow so write order stays submit order;
* a failed batch is retried with exponential backoff until it is written; meanwhile
  ``healthy`` is false (``/readyz`` takes the replica out of rotation), the
  ``audit_events_total{result="failed"}`` counter rises and an error is logged;
* only when the overflow is full too are events dropped, counted as
  ``audit_events_total{result="dropped"}`` and logged as errors. (A later spool file plugs in
  here: the overflow is the place to spill to disk instead.)

``close`` drains everything before it returns, then closes the sink (the writer owns it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque

from gateway.audit.event import AuditEvent
from gateway.audit.sink import AuditSink
from gateway.metrics import Metrics
from gateway.settings import AuditSettings

log = logging.getLogger("skein.audit")

_DROP_LOG_INTERVAL_S = 5.0  # one error line per interval, not one per dropped event


class AuditWriter:
    def __init__(
        self,
        sink: AuditSink,
        settings: AuditSettings,
        metrics: Metrics,
        *,
        overflow_limit: int | None = None,
        retry_initial_s: float = 0.05,
        retry_max_s: float = 5.0,
        close_timeout_s: float = 30.0,
    ) -> None:
        self._sink = sink
        self._metrics = metrics
        self._batch_size = settings.batch_size
        self._linger_s = settings.flush_interval_ms / 1000
        self._queue: asyncio.Queue[AuditEvent | None] = asyncio.Queue(settings.queue_size)
        self._overflow: deque[AuditEvent] = deque()
        self._overflow_limit = settings.queue_size * 10 if overflow_limit is None else overflow_limit
        self._retry_initial_s, self._retry_max_s = retry_initial_s, retry_max_s
        self._close_timeout_s = close_timeout_s
        self._close_deadline = 0.0
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._closing = False
        self._sink_closed = False
        self._failing = False
        self._in_flight = 0
        self._dropped = 0
        self._dropped_unlogged = 0
        self._drop_logged_at = 0.0

    # -- the request path ------------------------------------------------------------------

    def submit(self, event: AuditEvent) -> None:
        """Hand an event over; never blocks, never raises."""
        if self._overflow or self._task is None or self._task.done():
            self._spill(event)
            return
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self._spill(event)

    # -- state -------------------------------------------------------------------------------

    @property
    def healthy(self) -> bool:
        """Running, the sink accepting writes, and room left to hold events: ready to serve."""
        running = self._task is not None and not self._task.done()
        return running and not self._failing and len(self._overflow) < self._overflow_limit

    @property
    def depth(self) -> int:
        """Events accepted but not yet written."""
        return self._queue.qsize() + len(self._overflow) + self._in_flight

    @property
    def dropped(self) -> int:
        return self._dropped

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the sink (failing loudly at start-up, not at the first write) and start writing."""
        if self._task is not None:
            raise RuntimeError("audit writer already started")
        await self._sink.open()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="skein-audit-writer")
        self._task.add_done_callback(self._on_exit)

    async def close(self, timeout_s: float | None = None) -> None:
        """Write everything accepted so far, then close the sink.

        If the sink keeps failing past the timeout, what is left is counted and logged as
        dropped: shutdown must end, and the loss must be visible.
        """
        if self._sink_closed:
            return
        if self._task is not None and not self._closing:
            self._closing = True
            timeout = self._close_timeout_s if timeout_s is None else timeout_s
            self._close_deadline = time.monotonic() + timeout
            self._stop.set()
            if not self._queue.full():
                self._queue.put_nowait(None)  # wakes a writer idling on an empty queue
            with contextlib.suppress(Exception):  # a crashed writer was logged by _on_exit
                await asyncio.shield(self._task)
        self._closing = True
        self._drop(self._take_all(), "the audit writer is closed")
        self._sink_closed = True
        await self._sink.close()

    def _on_exit(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("audit writer stopped", exc_info=task.exception())

    # -- the writer task --------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            batch = await self._next_batch()
            if batch is None:
                return
            if batch:
                await self._write(batch)

    async def _next_batch(self) -> list[AuditEvent] | None:
        """The next batch; ``[]`` after a wake-up with nothing to do; ``None`` when done."""
        batch: list[AuditEvent] = []
        if self._queue.empty() and not self._overflow:
            if self._closing:
                return None
            first = await self._queue.get()  # idle until the first event arrives
            if first is None:
                return batch
            batch.append(first)
        waiting = len(batch) + self._queue.qsize() + len(self._overflow)
        if waiting < self._batch_size and not self._closing:
            await self._linger()
        self._fill(batch)
        return batch

    async def _linger(self) -> None:
        # Let a batch gather: one transaction per flush interval rather than per event.
        try:
            async with asyncio.timeout(self._linger_s):
                await self._stop.wait()
        except TimeoutError:
            pass

    def _fill(self, batch: list[AuditEvent]) -> None:
        queue, overflow, size = self._queue, self._overflow, self._batch_size
        while len(batch) < size and not queue.empty():
            item = queue.get_nowait()
            if item is not None:
                batch.append(item)
        # The overflow holds only events newer than anything queued, so it comes second.
        while len(batch) < size and overflow:
            batch.append(overflow.popleft())
        self._in_flight = len(batch)

    async def _write(self, batch: list[AuditEvent]) -> None:
        delay = self._retry_initial_s
        while True:
            try:
                await self._sink.append(batch)
            except Exception as exc:
                if not self._retry_after_failure(batch, exc):
                    return
                await asyncio.sleep(self._backoff(delay))
                delay = min(delay * 2, self._retry_max_s)
                continue
            self._written(batch)
            return

    def _written(self, batch: list[AuditEvent]) -> None:
        if self._failing:
            log.warning("audit sink recovered; writing again (%d events waiting)", self.depth)
            self._failing = False
        self._in_flight = 0
        self._metrics.count_audit("written", len(batch))
        self._metrics.set_audit_queue_depth(self.depth)

    def _retry_after_failure(self, batch: list[AuditEvent], exc: Exception) -> bool:
        """Count and log a failed write; False when closing has run out of time."""
        self._metrics.count_audit("failed", len(batch))
        self._metrics.set_audit_queue_depth(self.depth)
        if not self._failing:
            log.error("audit sink failed; retrying with backoff (%d events held): %r", self.depth, exc)
            self._failing = True
        if self._closing and time.monotonic() >= self._close_deadline:
            self._in_flight = 0
            self._drop(batch + self._take_all(), "the audit sink failed until the close timeout")
            return False
        return True

    def _backoff(self, delay: float) -> float:
        if self._closing:
            return max(0.0, min(delay, self._close_deadline - time.monotonic()))
        return delay

    # -- overflow and loss ----------------------------------------------------------------

    def _spill(self, event: AuditEvent) -> None:
        if self._sink_closed or (self._closing and self._task is not None and self._task.done()):
            self._drop([event], "the audit writer is closed")
        elif len(self._overflow) >= self._overflow_limit:
            self._drop([event], "the audit queue and overflow are full")
        else:
            if not self._overflow:
                log.warning("audit queue full; holding events in memory (limit %d)", self._overflow_limit)
            self._overflow.append(event)

    def _take_all(self) -> list[AuditEvent]:
        events = [item for item in _drain(self._queue) if item is not None]
        events.extend(self._overflow)
        self._overflow.clear()
        return events

    def _drop(self, events: list[AuditEvent], why: str) -> None:
        if not events:
            return
        self._dropped += len(events)
        self._dropped_unlogged += len(events)
        self._metrics.count_audit("dropped", len(events))
        now = time.monotonic()
        if now - self._drop_logged_at >= _DROP_LOG_INTERVAL_S:
            log.error(
                "AUDIT EVENTS LOST: %d dropped (%s); %d in total", self._dropped_unlogged, why, self._dropped
            )
            self._drop_logged_at, self._dropped_unlogged = now, 0


def _drain(queue: asyncio.Queue[AuditEvent | None]) -> list[AuditEvent | None]:
    items = []
    while not queue.empty():
        items.append(queue.get_nowait())
    return items
