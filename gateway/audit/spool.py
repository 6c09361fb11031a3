"""The audit spool: an append-only local file for events the database could not take.

When the Postgres sink cannot write a batch (server down, slow past its timeout) it appends
the batch's stamped records here, one JSON line each, and ``fsync``s before reporting the
batch written: a spooled event survives a crash of the gateway. Once the database answers
again the sink replays the file in order and empties it; replay is idempotent because the
database ignores a ``(instance_id, seq)`` it already holds.

A kill during a write can leave half a line at the end; that batch was never acknowledged,
so opening the spool cuts it off. The file is bounded (``max_bytes``): a full spool refuses
the batch (``SpoolFull``), which the writer turns into retries and a readiness failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from gateway.audit.sink import AuditStoreError


class SpoolFull(AuditStoreError):
    """The spool file reached its size limit: events can no longer be held safely."""


class Spool:
    """Synchronous file operations; the sink runs them off the event loop."""

    def __init__(self, path: Path, max_bytes: int) -> None:
        self._path = path
        self._max_bytes = max_bytes
        self._size = 0

    @property
    def path(self) -> Path:
        return self._path

    @property
    def size(self) -> int:
        return self._size

    @property
    def pending(self) -> bool:
        return self._size > 0

    def open(self) -> None:
        """Create the file if needed and drop a torn last line left by a crash."""
        self._path.parent.mkdir(parents=True, exist_ok=True)
        with open(self._path, "ab+") as f:
            size = f.seek(0, os.SEEK_END)
            keep = _complete_prefix(f, size)
            if keep != size:
                f.truncate(keep)
                os.fsync(f.fileno())
            self._size = keep

    def append(self, lines: list[bytes]) -> None:
        """Append records (JSON without newline) durably, or raise ``SpoolFull``."""
        data = b"".join(line + b"\n" for line in lines)
        if self._size + len(data) > self._max_bytes:
            raise SpoolFull(f"audit spool {self._path} is full ({self._size} of {self._max_bytes} bytes)")
        with open(self._path, "ab") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        self._size += len(data)

    def read(self, offset: int, size: int) -> tuple[list[dict[str, Any]], int]:
        """Up to ``size`` records from byte ``offset`` on, and the offset after them.

        Replay reads chunk by chunk so that memory stays bounded at any spool size.
        """
        records: list[dict[str, Any]] = []
        with open(self._path, "rb") as f:
            f.seek(offset)
            while len(records) < size:
                line = f.readline()
                if not line.endswith(b"\n"):
                    break  # end of file (a torn tail was cut when the spool was opened)
                records.append(orjson.loads(line))
                offset += len(line)
        return records, offset

    def batches(self, size: int) -> Iterator[list[dict[str, Any]]]:
        """The spooled records in write order, ``size`` at a time."""
        offset = 0
        while True:
            batch, offset = self.read(offset, size)
            if not batch:
                return
            yield batch

    def last(self) -> dict[str, Any] | None:
        """The newest spooled record (the chain head the database may not have yet)."""
        if self._size == 0:
            return None
        with open(self._path, "rb") as f:
            # Read backwards from the end until the chunk holds the whole last line.
            step = 65536
            while True:
                start = max(0, self._size - step)
                f.seek(start)
                chunk = f.read(self._size - start)
                cut = chunk.rstrip(b"\n").rfind(b"\n")
                if cut >= 0 or start == 0:
                    last: dict[str, Any] = orjson.loads(chunk[cut + 1 :])
                    return last
                step *= 2

    def clear(self) -> None:
        """Empty the file after everything in it reached the database."""
        with open(self._path, "r+b") as f:
            f.truncate(0)
            os.fsync(f.fileno())
        self._size = 0


def _complete_prefix(f: BinaryIO, size: int) -> int:
    """Length of the file up to and including its last newline."""
    pos = size
    while pos > 0:
        step = min(4096, pos)
        f.seek(pos - step)
        chunk = f.read(step)
        cut = chunk.rfind(b"\n")
        if cut >= 0:
            return pos - step + cut + 1
        pos -= step
    return 0
