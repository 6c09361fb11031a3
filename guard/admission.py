"""Fair capacity: who may put work into the guard, and in which order it runs.

Two levels, because they answer different questions:

* **Admission** (per call): a caller may have at most ``per_caller`` calls inside the guard
  at once, and the guard holds at most ``max_pending`` calls overall. A call over either
  bound is refused at once with ``GuardBusy`` (the gateway answers 429 + Retry-After): a
  flooding caller is told to slow down instead of filling a queue everyone else waits in.
* **Scheduling** (per batch of text): the workers are handed out round-robin over the
  callers that are waiting, one batch at a time. Long calls are cut into batches
  (``guard.chunking``), so an ordinary call waits for at most one batch per worker of a
  flooding caller's big request, never for the whole request.

Waiting for a worker and the work itself have separate limits: the work limit
(``GuardSettings.timeout_s``) catches a stuck or pathological batch (a ``GuardUnavailable``,
the worker is replaced); a wait longer than ``queue_timeout_s`` means the guard is
saturated, which is a ``GuardBusy`` with a retry hint, not an outage.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from guard.errors import GuardBusy

_EWMA_WEIGHT = 0.2  # how fast the service-time estimate behind Retry-After follows changes
_MAX_RETRY_AFTER_S = 60


class FairScheduler:
    """``slots`` workers handed out round-robin over callers (FIFO within a caller)."""

    def __init__(self, slots: int) -> None:
        self._free = slots
        self._slots = slots
        # Insertion order is the rotation: a caller that was served moves to the back.
        self._waiting: dict[str, deque[asyncio.Future[None]]] = {}
        self._queued = 0
        self._batch_seconds = 0.02  # running estimate of one batch's service time

    @property
    def queued(self) -> int:
        return self._queued

    def estimated_wait_s(self, ahead: int | None = None) -> float:
        """How long a batch arriving now would wait, from the recent service times."""
        count = self._queued if ahead is None else ahead
        return (count + 1) * self._batch_seconds / max(1, self._slots)

    def record(self, seconds: float) -> None:
        self._batch_seconds += _EWMA_WEIGHT * (seconds - self._batch_seconds)

    async def acquire(self, caller: str) -> None:
        """Wait for a worker; the caller must ``release()`` it when done."""
        if self._free > 0 and not self._waiting:
            self._free -= 1
            return
        granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(caller, deque()).append(granted)
        self._queued += 1
        try:
            await granted
        except asyncio.CancelledError:
            if granted.done() and not granted.cancelled():
                self.release()  # granted just as we gave up: pass the slot on
            else:
                self._forget(caller, granted)
            raise

    def _forget(self, caller: str, granted: asyncio.Future[None]) -> None:
        queue = self._waiting.get(caller)
        if queue is not None and granted in queue:
            queue.remove(granted)
            self._queued -= 1
            if not queue:
                del self._waiting[caller]

    def release(self) -> None:
        while self._waiting:
            caller = next(iter(self._waiting))
            queue = self._waiting.pop(caller)
            granted = queue.popleft()
            self._queued -= 1
            if queue:
                self._waiting[caller] = queue  # to the back of the rotation
            if not granted.done():
                granted.set_result(None)
                return
        self._free += 1


class Admission:
    """Per-caller and overall bounds on the calls inside the guard."""

    def __init__(self, per_caller: int, max_pending: int, scheduler: FairScheduler) -> None:
        self._per_caller = per_caller
        self._max_pending = max_pending
        self._scheduler = scheduler
        self._inside: dict[str, int] = {}
        self._total = 0

    @property
    def inside(self) -> int:
        return self._total

    def retry_after(self) -> int:
        wait = self._scheduler.estimated_wait_s()
        return max(1, min(_MAX_RETRY_AFTER_S, math.ceil(wait)))

    @asynccontextmanager
    async def admit(self, caller: str | None) -> AsyncIterator[None]:
        """Hold a place for one call; ``None``: a caller without a share of its own."""
        key = caller or ""
        held = self._inside.get(key, 0)
        if caller is not None and held >= self._per_caller:
            raise GuardBusy(self.retry_after(), caller_limit=True)
        if self._total >= self._max_pending:
            raise GuardBusy(self.retry_after(), caller_limit=False)
        self._inside[key] = held + 1
        self._total += 1
        try:
            yield
        finally:
            self._total -= 1
            left = self._inside[key] - 1
            if left:
                self._inside[key] = left
            else:
                del self._inside[key]
