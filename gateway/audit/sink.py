"""Where audit events end up: the ``AuditSink`` protocol.

A sink owns one hash chain (its ``instance_id``): it stamps each event with
``instance_id``, the next ``seq``, the ``prev_hash`` of the record before it and its own
``hash``, in the order the batch lists them, and it continues that chain across restarts.

Contract the ``AuditWriter`` relies on:

* ``open`` (called by ``AuditWriter.start``, so a bad store stops the gateway at start-up)
  connects, creates or checks the schema and loads the chain head;
* ``append`` is all-or-nothing: if it raises, nothing of the batch is stored and the chain
  head has not moved, so the writer may hand the same batch in again (the events are then
  re-stamped with the same values);
* only one ``append`` runs at a time (the writer never overlaps calls);
* ``close`` releases the connection; it is called once, after the last ``append``.

Sinks: ``SqliteSink`` (embedded default). A Postgres sink (one chain per gateway replica,
rows keyed by ``(instance_id, seq)``) implements the same protocol.
"""

from __future__ import annotations

from typing import Protocol

from gateway.audit.event import AuditEvent


class AuditSink(Protocol):
    @property
    def instance_id(self) -> str:
        """The chain this sink appends to."""
        ...

    async def open(self) -> None:
        """Connect and load the chain head; idempotent."""
        ...

    async def append(self, batch: list[AuditEvent]) -> None:
        """Stamp and store ``batch`` in order, in one transaction."""
        ...

    async def close(self) -> None: ...


class AuditStoreError(Exception):
    """The audit store cannot be opened or read (missing file, newer schema, corrupt row)."""


class AuditStoreUnavailable(AuditStoreError):
    """The audit store's server cannot be reached (``skein audit ...`` exits 3, not 1)."""
