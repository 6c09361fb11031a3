"""The audit writer: durable before answered, then shipped to the store in the background.

``record(event)`` stamps the event into its chain (``seq``, ``prev_hash``, ``hash``) and
appends it to the local spool (``gateway/audit/spool.py``); it returns once the spool holds
it, and the caller's answer is released only then. With ``audit.fsync: false`` (default)
that is one ``write()`` into the kernel, a few microseconds on the event loop: a killed
gateway loses nothing. With ``true`` the writer also fsyncs, once for every request that
arrived while the previous fsync ran (group commit): power loss loses nothing either.

When the spool cannot take the event (disk error, ``spool_max_bytes`` reached) ``record``
raises ``Unavailable`` (503 ``audit_unavailable``): a call is never answered without its
record. ``submit`` is the fire-and-forget form for paths that cannot wait; it logs and
counts what it could not spool.

One shipper task moves spooled records into the store (the SQLite file or Postgres) in
batches of ``batch_size``, gathering for up to ``flush_interval_ms``. It takes them from a
short in-memory hand-off when it can (no re-reading, no re-parsing) and from the spool file
otherwise (after a restart, behind a long outage, after a failed store). When the store fails it
retries with backoff (50 ms doubling to 5 s) while records wait, durable, in the spool; the
first failure is logged as a warning, recovery too, and ``problems`` says what is wrong for
``/readyz``. A store that cannot be reached at start-up is not fatal when the spool knows the
chain head. ``close`` ships what it can and leaves the rest in the spool for the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque

from gateway.audit.chain import ChainHead, StampedRecord, stamp
from gateway.audit.event import AuditEvent
from gateway.audit.sink import AuditSink, AuditStoreError
from gateway.audit.spool import Spool, SpoolPosition
from gateway.errors import Unavailable
from gateway.metrics import Metrics
from gateway.settings import AuditSettings

log = logging.getLogger("skein.audit")

_LOG_INTERVAL_S = 60.0  # repeat an ongoing failure at most this often
_SPOOL_ERROR_HOLD_S = 5.0  # after a spool write error, unready this long (then try again)
_PARSE_SLICE = 64  # records parsed between two yields to the event loop


class AuditWriter:
    def __init__(
        self,
        sink: AuditSink,
        spool: Spool,
        settings: AuditSettings,
        metrics: Metrics,
        *,
        retry_initial_s: float = 0.05,
        retry_max_s: float = 5.0,
        close_timeout_s: float = 30.0,
    ) -> None:
        self._sink, self._spool, self._metrics = sink, spool, metrics
        self._instance_id = sink.instance_id
        self._fsync = settings.fsync
        self._batch_size = settings.batch_size
        self._linger_s = settings.flush_interval_ms / 1000
        self._retry_initial_s, self._retry_max_s = retry_initial_s, retry_max_s
        self._close_timeout_s = close_timeout_s
        self._head = ChainHead()  # the chain head in the spool
        self._shipped_seq = 0  # the last seq the store holds (as far as we know)
        # Records just spooled, with the spool position after each: the shipper's fast path.
        self._handoff: deque[tuple[StampedRecord, SpoolPosition]] = deque(maxlen=4 * settings.batch_size)
        self._next_seq: int | None = None  # the seq at the shipper's spool position, once known
        self._written = self._synced = 0  # spool writes, and how many of them are fsynced
        self._sync_task: asyncio.Task[bool] | None = None
        self._shipper: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._accepting = False
        self._spool_error_at: float | None = None
        self._store_error: str | None = None
        self._store_failing_since = 0.0
        self._store_logged_at = 0.0
        self._dropped = 0

    # -- the request path ------------------------------------------------------------------

    async def record(self, event: AuditEvent) -> None:
        """Return once ``event`` is durable in the spool; raise ``Unavailable`` if it cannot be."""
        try:
            written = self._append(event)
        except AuditStoreError as exc:
            self._metrics.count_audit("refused")
            raise Unavailable(
                "the audit log cannot be written, so the answer is withheld", reason="audit_unavailable"
            ) from exc
        if self._fsync:
            await self._synced_to(written)

    def submit(self, event: AuditEvent) -> None:
        """Spool ``event`` without waiting (fsync follows); never raises. Loss is counted."""
        try:
            written = self._append(event)
        except AuditStoreError as exc:
            self._dropped += 1
            self._metrics.count_audit("dropped")
            log.error("AUDIT EVENT LOST: %s (%d lost in total)", exc, self._dropped)
            return
        if self._fsync and self._sync_task is None:
            self._sync_task = asyncio.get_running_loop().create_task(self._sync(written))

    def _append(self, event: AuditEvent) -> int:
        if not self._accepting:
            raise AuditStoreError("the audit writer is not running")
        record, head = stamp(event, self._instance_id, self._head)
        try:
            after = self._spool.append(record.line(), head)
        except (OSError, AuditStoreError) as exc:
            self._spool_failed(exc)
            raise AuditStoreError(f"audit spool: {exc}") from exc
        self._head = head
        self._handoff.append((record, after))
        self._spool_error_at = None
        self._written += 1
        self._metrics.count_audit("spooled")
        self._wake.set()
        return self._written

    async def _synced_to(self, written: int) -> None:
        """Group commit: wait for an fsync that started after write number ``written``."""
        while self._synced < written:
            task = self._sync_task
            if task is None:
                task = self._sync_task = asyncio.get_running_loop().create_task(self._sync(written))
            if not await asyncio.shield(task):
                self._metrics.count_audit("refused")
                raise Unavailable(
                    "the audit log cannot be synced to disk, so the answer is withheld",
                    reason="audit_unavailable",
                )

    async def _sync(self, target: int) -> bool:
        """One fsync for every write so far; False (logged) when the disk failed."""
        try:
            target = max(target, self._written)
            await asyncio.to_thread(self._spool.sync)
        except OSError as exc:
            self._spool_failed(exc)
            return False
        finally:
            self._sync_task = None
        self._synced = max(self._synced, target)
        return True

    # -- state -------------------------------------------------------------------------------

    @property
    def healthy(self) -> bool:
        """Able to record: running, the spool writable and not full. False: not ready."""
        if not self._accepting:
            return False
        failed = self._spool_error_at
        return failed is None or time.monotonic() - failed > _SPOOL_ERROR_HOLD_S

    def problems(self) -> list[str]:
        """Why audit is degraded (records safe in the spool, the store behind), for /readyz."""
        found: list[str] = []
        if self._store_error is not None:
            since = time.monotonic() - self._store_failing_since
            found.append(
                f"audit store failing for {since:.0f}s ({self._store_error}); "
                f"{self.depth} records wait in the local spool"
            )
        if self._spool_error_at is not None:
            found.append("the audit spool cannot be written: calls are refused (503 audit_unavailable)")
        return found

    @property
    def store_up(self) -> bool:
        return self._store_error is None

    @property
    def depth(self) -> int:
        """Records spooled but not yet in the store."""
        return max(0, self._head.seq - self._shipped_seq)

    @property
    def spool_bytes(self) -> int:
        return self._spool.pending_bytes

    @property
    def dropped(self) -> int:
        return self._dropped

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Open spool and store, find the chain head, start shipping.

        The head is the spool's (records a crash left there continue the chain) unless the
        store is ahead; with neither (a new spool and an unreachable store) the chain's place
        is unknown and start-up fails rather than fork it.
        """
        if self._shipper is not None:
            raise RuntimeError("audit writer already started")
        spooled = self._spool.open()
        try:
            await self._sink.open()
            self._head = self._choose_head(spooled, self._sink.head)
        except BaseException:
            self._spool.close()
            raise
        stored = self._sink.head
        self._shipped_seq = stored.seq if stored is not None else self._spool.first_head.seq
        if stored is None:
            self._store_failed(AuditStoreError("the store is unreachable"), 0)
        if self._shipped_seq >= self._head.seq:
            self._spool.release(self._spool.end)  # everything spooled is stored already
            self._next_seq = self._head.seq + 1
        self._accepting = True
        self._shipper = asyncio.get_running_loop().create_task(self._ship(), name="skein-audit-shipper")
        self._shipper.add_done_callback(self._on_exit)
        if self.depth:
            log.warning("audit spool holds %d records from before the start; shipping them", self.depth)

    def _choose_head(self, spooled: ChainHead | None, stored: ChainHead | None) -> ChainHead:
        if spooled is None and stored is None:
            raise AuditStoreError(
                f"audit chain {self._instance_id!r}: the spool is new and the {self._sink.label} audit"
                " store is unreachable, so where the chain continues is unknown; start again once it"
                " answers"
                " (keep state_dir on a persistent volume so this cannot recur)"
            )
        if spooled is None or (stored is not None and stored.seq > spooled.seq):
            assert stored is not None
            self._spool.begin(stored)
            return stored
        return spooled

    async def close(self, timeout_s: float | None = None) -> None:
        """Stop accepting, ship what the store takes (until ``timeout_s``), close both.

        What the store does not take stays in the spool and is shipped at the next start.
        """
        if not self._accepting and self._shipper is None:
            return
        self._accepting = False
        if self._sync_task is not None:
            await asyncio.shield(self._sync_task)
        self._stop.set()
        self._wake.set()
        shipper, self._shipper = self._shipper, None
        if shipper is not None:
            timeout = self._close_timeout_s if timeout_s is None else timeout_s
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(shipper), timeout)
            shipper.cancel()
            with contextlib.suppress(BaseException):
                await shipper
        if self.depth:
            log.warning("audit spool keeps %d records for the next start", self.depth)
        try:
            await self._sink.close()
        finally:
            self._spool.close()

    def _on_exit(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("audit shipper stopped", exc_info=task.exception())

    # -- the shipper -------------------------------------------------------------------------

    async def _ship(self) -> None:
        position = self._spool.start
        delay = self._retry_initial_s
        while True:
            if self._shipped_seq >= self._head.seq:
                if self._stop.is_set():
                    return
                self._wake.clear()
                if self._store_error is None:
                    await self._wake.wait()
                elif await self._probe(delay):  # idle but failing: find out when it is back
                    delay = self._retry_initial_s
                else:
                    delay = min(delay * 2, self._retry_max_s)
                continue
            if self.depth < self._batch_size and not self._stop.is_set():
                await self._linger()
            records, after = self._from_handoff() or await self._from_spool(position)
            if after == position:  # counted records are not readable: a spool bug; do not spin
                log.error("audit spool: %d records expected at %s, none readable", self.depth, position)
                self._shipped_seq = self._head.seq
                continue
            if records and not await self._store(records):
                if self._stop.is_set():
                    return  # shutdown does not wait for a failing store: the spool keeps them
                await self._pause(delay)
                delay = min(delay * 2, self._retry_max_s)
                continue
            delay = self._retry_initial_s
            position = after
            self._next_seq = records[-1].seq + 1 if records else self._next_seq
            self._spool.release(position)

    async def _probe(self, after_s: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), after_s)
        return self._stop.is_set() or await self._store([])

    async def _linger(self) -> None:
        # Let a batch gather: one store transaction per interval rather than per request.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), self._linger_s)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)

    def _from_handoff(self) -> tuple[list[StampedRecord], SpoolPosition] | None:
        """The next batch from memory, if memory holds the very next records."""
        handoff, expected = self._handoff, self._next_seq
        while handoff and expected is not None and handoff[0][0].seq < expected:
            handoff.popleft()  # shipped from the spool file already
        if not handoff or handoff[0][0].seq != expected:
            return None  # unknown position, or memory dropped some: read the file
        taken = [handoff.popleft() for _ in range(min(len(handoff), self._batch_size))]
        return [record for record, _ in taken], taken[-1][1]

    async def _from_spool(self, position: SpoolPosition) -> tuple[list[StampedRecord], SpoolPosition]:
        lines, after = self._spool.read(position, self._batch_size)
        return await self._parse(lines), after

    async def _parse(self, lines: list[bytes]) -> list[StampedRecord]:
        records: list[StampedRecord] = []
        for start in range(0, len(lines), _PARSE_SLICE):
            for line in lines[start : start + _PARSE_SLICE]:
                try:
                    records.append(StampedRecord.parse(line))
                except ValueError:  # only a damaged disk does this; verify will show the gap
                    self._dropped += 1
                    self._metrics.count_audit("dropped")
                    log.error("AUDIT RECORD LOST: an unreadable line in the spool was skipped")
            await asyncio.sleep(0)
        return records

    async def _store(self, records: list[StampedRecord]) -> bool:
        try:
            await self._sink.store(records)
        except Exception as exc:
            self._store_failed(exc, len(records))
            return False
        if records:
            self._shipped_seq = max(self._shipped_seq, records[-1].seq)
            self._metrics.count_audit("written", len(records))
        if self._store_error is not None:
            log.warning(
                "audit store recovered after %.0fs; shipping %d spooled records",
                time.monotonic() - self._store_failing_since,
                self.depth,
            )
            self._store_error = None
        return True

    # -- failures ----------------------------------------------------------------------------

    def _store_failed(self, exc: Exception, count: int) -> None:
        self._metrics.count_audit("failed", count)
        now = time.monotonic()
        if self._store_error is None:
            self._store_failing_since = self._store_logged_at = now
            log.warning("audit store failed; records wait in the local spool (%d): %r", self.depth, exc)
        elif now - self._store_logged_at >= _LOG_INTERVAL_S:
            self._store_logged_at = now
            log.warning("audit store still failing; %d records in the spool: %r", self.depth, exc)
        self._store_error = _describe(exc)

    def _spool_failed(self, exc: BaseException) -> None:
        if self._spool_error_at is None:
            log.error("audit spool cannot be written; refusing calls until it can: %r", exc)
        self._spool_error_at = time.monotonic()


def _describe(exc: BaseException) -> str:
    """A short, one-line reason for /readyz (no tracebacks, no DSNs)."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]
