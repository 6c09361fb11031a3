"""Where audit records end up: the ``AuditSink`` protocol (the store behind the spool).

Records reach a sink already stamped (``gateway/audit/chain.py``): the writer stamps each
event and spools it before the caller is answered, and its shipper hands the spooled records
to the sink in order. A sink stores one chain (its ``instance_id``) and keeps its head.

Contract the ``AuditWriter`` relies on:

* ``open`` (at start-up) opens the store and loads the chain head. A store that cannot be
  used at all (a newer schema, a second live writer of the chain) raises; a Postgres server
  that is merely down does not: the gateway serves from the spool meanwhile;
* ``head`` is the stored chain head, None while it is unknown (the server is unreachable);
* ``store`` is all-or-nothing and idempotent by ``seq``: records the store already holds are
  skipped (``continuing``), so the shipper may hand the same records in again after a crash;
  a record that contradicts the stored chain raises ``ChainForked``;
* only one ``store`` runs at a time; ``close`` is called once, after the last.

Sinks: ``SqliteSink`` (embedded default) and ``PostgresSink`` (one chain per replica).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from gateway.audit.chain import ChainHead, StampedRecord


class AuditStoreError(Exception):
    """The audit store cannot be opened, read or written (missing file, newer schema, down)."""


class AuditStoreUnavailable(AuditStoreError):
    """The audit store's server cannot be reached (``skein audit ...`` exits 3, not 1)."""


class ChainForked(AuditStoreError):
    """Records to store do not continue the stored chain: two writers wrote one chain."""


class ChainLocked(AuditStoreError):
    """Another live session holds the chain's writer lock; storing waits until it is free."""


class AuditSink(Protocol):
    label: str  # what it is, for messages: "SQLite", "Postgres"

    @property
    def instance_id(self) -> str:
        """The chain this sink stores."""
        ...

    @property
    def head(self) -> ChainHead | None:
        """The stored chain head; None while unknown."""
        ...

    async def open(self) -> None: ...

    async def store(self, records: Sequence[StampedRecord]) -> None:
        """Store the records the store does not hold yet, in one transaction."""
        ...

    async def close(self) -> None: ...


def continuing(records: Sequence[StampedRecord], head: ChainHead) -> list[StampedRecord]:
    """The records after ``head``, checked to continue it; raises ``ChainForked`` if not."""
    fresh: list[StampedRecord] = []
    for record in records:
        seq = record.seq
        if seq < head.seq:
            continue
        if seq == head.seq:
            if record.event.get("hash") != head.hash:
                raise ChainForked(f"chain {record.instance_id!r}: seq {seq} is stored with another hash")
            continue
        if not fresh and seq == head.seq + 1 and record.event.get("prev_hash") != head.hash:
            raise ChainForked(f"chain {record.instance_id!r}: seq {seq} does not follow the stored head")
        fresh.append(record)
    return fresh
