"""The audit spool: the local write-ahead log every audit event reaches before its answer.

``AuditWriter.record`` stamps an event and appends its line here; the caller's answer is
released only after that. The writer's shipper then copies spooled records into the store
(the SQLite file, or Postgres) and the spool forgets files whose records are all stored.

Files: ``<stem>.<n>.ndjson`` segments (n = 000001, 000002, ...) beside the configured
``spool_path``. A segment's first line is its header, ``{"spool_head": {"seq", "hash"}}``:
the chain head before its first record, so the head stays known after every record was
shipped and deleted. Then one stamped record per line. Writes go to the last segment; past
``segment_bytes`` a new one starts. Only the last segment can end in a torn line (a kill
mid-write): that write never returned, nobody was answered on it, and ``open`` cuts it off.

Durability: ``append`` is one ``write()`` into the kernel, which survives a killed process;
``sync`` (``audit.fsync``) also survives power loss. Everything here runs on the event loop
except ``sync``, which the writer runs in a thread: a few microseconds per write, and no
state shared with threads. One live process per spool: an exclusive ``flock`` on
``<stem>.lock``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from pathlib import Path
from typing import NamedTuple

import orjson

from gateway.audit.chain import ChainHead
from gateway.audit.sink import AuditStoreError
from gateway.audit.sqlite import claim_lock

log = logging.getLogger("skein.audit")

_HEADER_KEY = "spool_head"
_COPY_CHUNK = 1 << 20


class SpoolFull(AuditStoreError):
    """The spool reached ``spool_max_bytes``: the store is not keeping up (or is down)."""


class SpoolPosition(NamedTuple):
    """A place in the spool: a segment and a byte offset in it (0: before its header)."""

    segment: int
    offset: int = 0


class Spool:
    def __init__(
        self, path: Path, max_bytes: int, *, fsync: bool = False, segment_bytes: int = 16 << 20
    ) -> None:
        self._dir = path.parent
        self._fsync = fsync
        self._stem = path.name.removesuffix(".ndjson")
        self._legacy = path  # the single-file spool of earlier versions, imported on open
        self._max_bytes, self._segment_bytes = max_bytes, segment_bytes
        self._pattern = re.compile(rf"^{re.escape(self._stem)}\.(\d{{6}})\.ndjson$")
        self._sizes: dict[int, int] = {}  # segment -> bytes written, in segment order
        self._fd: int | None = None  # the last segment, open for appending
        self._lock_fd: int | None = None
        self._shipped = SpoolPosition(1)
        self._first = ChainHead()  # the header of the oldest segment
        self._unshipped_total = 0  # bytes of the segments from the shipped one on

    # -- opening ---------------------------------------------------------------------------

    def open(self) -> ChainHead | None:
        """Lock, recover after a crash, and return the chain head at the end (None: empty)."""
        self._dir.mkdir(parents=True, exist_ok=True)
        self._lock_fd = claim_lock(self._dir / f"{self._stem}.lock", f"audit spool {self._stem}")
        self._import_legacy()
        numbers = sorted(int(m[1]) for p in self._dir.iterdir() if (m := self._pattern.match(p.name)))
        if not numbers:
            return None
        for n in numbers:
            self._sizes[n] = self.segment_path(n).stat().st_size
        last = numbers[-1]
        self._sizes[last] = _cut_torn_tail(self.segment_path(last))
        self._shipped = SpoolPosition(numbers[0])
        self._first = _header(self.segment_path(numbers[0]))
        self._unshipped_total = sum(self._sizes.values())
        self._fd = os.open(self.segment_path(last), os.O_WRONLY | os.O_APPEND)
        return _last_head(self.segment_path(last))

    def begin(self, head: ChainHead) -> None:
        """Start a new segment after ``head`` (a fresh spool, or the store is ahead of it)."""
        number = max(self._sizes, default=0) + 1
        path = self.segment_path(number)
        header = orjson.dumps({_HEADER_KEY: {"seq": head.seq, "hash": head.hash}}) + b"\n"
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            _write_all(fd, header)
            if self._fsync:
                os.fsync(fd)
                _sync_dir(self._dir)
        except BaseException:
            os.close(fd)
            path.unlink(missing_ok=True)
            raise
        if self._fd is not None:
            if self._fsync:
                os.fsync(self._fd)  # the finished segment is on disk before it is left
            os.close(self._fd)
        self._fd = fd
        self._sizes[number] = len(header)
        self._unshipped_total += len(header)
        if len(self._sizes) == 1:
            self._shipped, self._first = SpoolPosition(number), head

    def segment_path(self, number: int) -> Path:
        return self._dir / f"{self._stem}.{number:06d}.ndjson"

    # -- writing -----------------------------------------------------------------------------

    def append(self, data: bytes, head: ChainHead) -> SpoolPosition:
        """Write stamped records (``head`` is the chain head after them); returns the position
        after them. Writes nothing and raises ``SpoolFull`` when the unshipped bytes would pass
        ``max_bytes``, ``OSError`` when the disk fails (the segment is cut back)."""
        fd = self._fd
        if fd is None:
            raise AuditStoreError("the audit spool is not open")
        if self.pending_bytes + len(data) > self._max_bytes:
            raise SpoolFull(f"the audit spool holds {self.pending_bytes} bytes (limit {self._max_bytes})")
        last = next(reversed(self._sizes))
        start = self._sizes[last]
        try:
            _write_all(fd, data)
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, start)
            raise
        end = self._sizes[last] = start + len(data)
        self._unshipped_total += len(data)
        if end >= self._segment_bytes:
            try:
                self.begin(head)
            except OSError as exc:  # keep writing to the current segment; try again later
                log.warning("could not start a new audit spool segment: %r", exc)
        return SpoolPosition(last, end)

    def sync(self) -> None:
        """fsync the segment being written (blocking: run it in a thread)."""
        if self._fd is not None:
            os.fsync(self._fd)

    # -- reading and forgetting --------------------------------------------------------------

    def read(self, position: SpoolPosition, limit: int) -> tuple[list[bytes], SpoolPosition]:
        """Up to ``limit`` complete records from ``position`` on, and the position after them."""
        segment, offset = position.segment, position.offset
        while True:
            end = self._sizes.get(segment)
            if end is None:
                later = [n for n in self._sizes if n > segment]
                if not later:
                    return [], SpoolPosition(segment, offset)
                segment, offset = later[0], 0
                continue
            lines, offset = _read_lines(self.segment_path(segment), offset, end, limit)
            if lines:
                return lines, SpoolPosition(segment, offset)
            if segment == next(reversed(self._sizes)):
                return [], SpoolPosition(segment, offset)
            segment, offset = segment + 1, 0  # this segment is done: on to the next

    def release(self, position: SpoolPosition) -> None:
        """Everything before ``position`` is stored: delete the segments it has left behind."""
        self._shipped = position
        for number in [n for n in self._sizes if n < position.segment]:
            del self._sizes[number]
            self.segment_path(number).unlink(missing_ok=True)
        self._unshipped_total = sum(self._sizes.values())

    @property
    def first_head(self) -> ChainHead:
        """The chain head before the oldest spooled record (as of ``open``)."""
        return self._first

    @property
    def start(self) -> SpoolPosition:
        """Where unshipped records begin (the oldest segment after a restart)."""
        return self._shipped

    @property
    def end(self) -> SpoolPosition:
        """The position after the last record written."""
        last = next(reversed(self._sizes), self._shipped.segment)
        return SpoolPosition(last, self._sizes.get(last, 0))

    @property
    def pending_bytes(self) -> int:
        """Bytes spooled but not yet stored (the shipper's backlog)."""
        return max(0, self._unshipped_total - self._shipped.offset)

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)
        lock, self._lock_fd = self._lock_fd, None
        if lock is not None:
            os.close(lock)

    # -- upgrading from the single-file spool -------------------------------------------------

    def _import_legacy(self) -> None:
        """Turn an old ``spool_path`` file (records only) into the first segment."""
        legacy = self._legacy
        if not legacy.is_file() or any(self._pattern.match(p.name) for p in self._dir.iterdir()):
            return
        size = _cut_torn_tail(legacy)
        if size == 0:
            legacy.unlink()
            return
        with open(legacy, "rb") as f:
            first = orjson.loads(f.readline())
        header = {_HEADER_KEY: {"seq": first["seq"] - 1, "hash": first["prev_hash"]}}
        target = self.segment_path(1)
        with open(target, "wb") as out, open(legacy, "rb") as f:
            out.write(orjson.dumps(header) + b"\n")
            while block := f.read(_COPY_CHUNK):
                out.write(block)
            out.flush()
            os.fsync(out.fileno())
        legacy.unlink()
        _sync_dir(self._dir)
        log.warning("imported the audit spool of an earlier version (%s, %d bytes)", legacy, size)


def _read_lines(path: Path, offset: int, end: int, limit: int) -> tuple[list[bytes], int]:
    """Complete lines of a segment from ``offset`` (0: skip the header) up to ``end``."""
    lines: list[bytes] = []
    with open(path, "rb") as f:
        if offset == 0:
            offset = len(f.readline())
        f.seek(offset)
        while len(lines) < limit and offset < end:
            line = f.readline()
            if not line.endswith(b"\n"):
                break
            offset += len(line)
            lines.append(line[:-1])
    return lines, offset


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _sync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _cut_torn_tail(path: Path) -> int:
    """Cut the file after its last newline (a kill mid-write); returns the new size."""
    with open(path, "r+b") as f:
        size = f.seek(0, os.SEEK_END)
        keep = size
        while keep > 0:
            step = min(65536, keep)
            f.seek(keep - step)
            cut = f.read(step).rfind(b"\n")
            if cut >= 0:
                keep = keep - step + cut + 1
                break
            keep -= step
        if keep != size:
            f.truncate(keep)
            os.fsync(f.fileno())
            log.warning("cut a torn record (%d bytes) from the end of %s", size - keep, path)
        return keep


def _header(path: Path) -> ChainHead:
    with open(path, "rb") as f:
        head = orjson.loads(f.readline())[_HEADER_KEY]
    return ChainHead(head["seq"], head["hash"])


def _last_head(path: Path) -> ChainHead:
    """The chain head at the end of a segment: its last record, else its header."""
    with open(path, "rb") as f:
        size = f.seek(0, os.SEEK_END)
        step = 65536
        while True:
            start = max(0, size - step)
            f.seek(start)
            chunk = f.read(size - start)
            cut = chunk.rstrip(b"\n").rfind(b"\n")
            if cut >= 0 or start == 0:
                last = orjson.loads(chunk[cut + 1 :])
                break
            step *= 2
    if _HEADER_KEY in last:
        return ChainHead(last[_HEADER_KEY]["seq"], last[_HEADER_KEY]["hash"])
    return ChainHead(last["seq"], last["hash"])
