"""Verify audit hash chains: every record unchanged, none missing, none moved.

Records are walked in storage order, one at a time (never all in memory). Each record
belongs to the chain of its ``instance_id`` (one per writer); per chain, verification
checks, in this order:

1. the record's ``hash`` is the hash of its content (else: **edited**), and the indexed
   copies stored beside it agree with it (else: **edited**, the column misleads queries);
2. its ``seq`` is the next one (else: **reordered** when the expected record is stored
   later, **missing** when it is nowhere, **duplicate** for a seq already seen);
3. its ``prev_hash`` is the previous record's ``hash`` (else: **bad_genesis** for the first
   record, **broken_link** otherwise: a record was rewritten and re-hashed, or replaced);

and at the end, that each chain reaches the head the writer recorded (else: **truncated**).
The first problem stops the walk and is reported with its seq.

Sources are behind ``ChainSource`` so that a Postgres store (and NDJSON files) verify the
same way; ``anchor`` is where a chain starts (genesis, or a pruned prefix's last record).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import orjson

from gateway.audit.event import body_hash
from gateway.audit.sink import AuditStoreError
from gateway.audit.sqlite import ChainHead, connect, index_values

ProblemKind = Literal[
    "edited", "missing", "reordered", "duplicate", "bad_genesis", "broken_link", "truncated", "malformed"
]


@dataclass(frozen=True, slots=True)
class StoredRecord:
    pos: int  # storage order
    event: dict[str, Any]
    columns: tuple[Any, ...] | None = None  # (instance_id, seq, *index_values) as stored


@dataclass(frozen=True, slots=True)
class Problem:
    instance_id: str
    seq: int
    kind: ProblemKind
    detail: str

    def __str__(self) -> str:
        return f"seq {self.seq} (chain {self.instance_id!r}): {self.kind}: {self.detail}"


@dataclass(frozen=True, slots=True)
class ChainSummary:
    instance_id: str
    records: int
    head: ChainHead


@dataclass(frozen=True, slots=True)
class VerifyReport:
    records: int
    chains: tuple[ChainSummary, ...]
    problem: Problem | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None

    def summary(self) -> str:
        if self.problem is not None:
            return f"audit log BROKEN at {self.problem} ({self.records} earlier records intact)"
        heads = ", ".join(f"{c.instance_id} seq {c.head.seq} head {c.head.hash[:16]}" for c in self.chains)
        plural = "" if len(self.chains) == 1 else "s"
        return f"audit log intact: {self.records} records in {len(self.chains)} chain{plural}" + (
            f" ({heads})" if heads else ""
        )


class ChainSource(Protocol):
    def records(self) -> Iterator[StoredRecord]: ...
    def has_seq(self, instance_id: str, seq: int) -> bool: ...
    def heads(self) -> Mapping[str, ChainHead]: ...
    def anchor(self, instance_id: str) -> ChainHead: ...


class _Chain:
    """What the walk knows about one chain so far."""

    __slots__ = ("count", "first", "prev", "seq")

    def __init__(self, anchor: ChainHead) -> None:
        self.first = anchor.seq + 1
        self.seq, self.prev, self.count = anchor.seq, anchor.hash, 0


def verify(source: ChainSource) -> VerifyReport:
    chains: dict[str, _Chain] = {}
    total = 0
    for record in source.records():
        event = record.event
        instance_id = _instance_of(record)
        chain = chains.get(instance_id)
        if chain is None:
            chain = chains[instance_id] = _Chain(source.anchor(instance_id))
        problem = _check_record(source, chain, record)
        if problem is not None:
            return VerifyReport(total, _summaries(chains), problem)
        chain.seq, chain.prev = event["seq"], event["hash"]
        chain.count += 1
        total += 1
    problem = _check_heads(source.heads(), chains)
    return VerifyReport(total, _summaries(chains), problem)


def _check_record(source: ChainSource, chain: _Chain, record: StoredRecord) -> Problem | None:
    event = record.event
    instance_id = _instance_of(record)
    seq = event.get("seq")
    if not isinstance(seq, int) or not isinstance(event.get("hash"), str):
        at = record.columns[1] if record.columns else chain.seq + 1
        return Problem(instance_id, at, "malformed", f"the record at position {record.pos} is not an event")
    found = (
        _check_content(record) or _check_order(source, chain, instance_id, seq) or _check_link(chain, event)
    )
    return Problem(instance_id, found[0], found[1], found[2]) if found else None


Finding = tuple[int, ProblemKind, str]


def _instance_of(record: StoredRecord) -> str:
    # An unreadable record still belongs to the chain its stored columns name.
    if "instance_id" in record.event or record.columns is None:
        return str(record.event.get("instance_id", ""))
    return str(record.columns[0])


def _check_content(record: StoredRecord) -> Finding | None:
    event = record.event
    body = dict(event)
    stored = body.pop("hash")
    if body_hash(body) != stored:
        return event["seq"], "edited", "the record's content does not match its hash"
    if record.columns is None:
        return None
    expected = (event.get("instance_id"), event["seq"], *index_values(event))
    names = ("instance_id", "seq", "ts", "sub", "decision", "reason", "model")
    for name, column, value in zip(names, record.columns, expected, strict=True):
        if column != value:
            return event["seq"], "edited", f"indexed column {name}={column!r} but the record says {value!r}"
    return None


def _check_order(source: ChainSource, chain: _Chain, instance_id: str, seq: int) -> Finding | None:
    expected = chain.seq + 1
    if seq == expected:
        return None
    if seq < expected:
        return seq, "duplicate", f"seq {seq} appears again after seq {chain.seq}"
    if source.has_seq(instance_id, expected):
        return expected, "reordered", f"seq {expected} is stored after seq {seq}"
    gap = f"seq {expected}" if seq == expected + 1 else f"seq {expected}..{seq - 1}"
    return expected, "missing", f"{gap} not found (deleted); the next record is seq {seq}"


def _check_link(chain: _Chain, event: dict[str, Any]) -> Finding | None:
    if event.get("prev_hash") == chain.prev:
        return None
    seq = event["seq"]
    if seq == chain.first:
        return seq, "bad_genesis", f"prev_hash {str(event.get('prev_hash'))[:16]}… is not the chain's start"
    return seq, "broken_link", f"prev_hash does not match seq {seq - 1}'s hash (rewritten and re-hashed?)"


def _check_heads(heads: Mapping[str, ChainHead], chains: Mapping[str, _Chain]) -> Problem | None:
    for instance_id, head in sorted(heads.items()):
        chain = chains.get(instance_id)
        last, last_hash = (chain.seq, chain.prev) if chain else (0, "")
        if head.seq > last:
            return Problem(
                instance_id, last + 1, "truncated", f"records after seq {last} up to {head.seq} are gone"
            )
        if head.seq == last and head.hash != last_hash:
            return Problem(
                instance_id, last, "edited", "the last record differs from the recorded chain head"
            )
    return None


def _summaries(chains: Mapping[str, _Chain]) -> tuple[ChainSummary, ...]:
    return tuple(
        ChainSummary(iid, chain.count, ChainHead(chain.seq, chain.prev))
        for iid, chain in sorted(chains.items())
    )


class SQLiteChainSource:
    """A ``ChainSource`` over the SQLite audit file (read-only)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def records(self) -> Iterator[StoredRecord]:
        rows = self._conn.execute(
            "SELECT pos, instance_id, seq, ts, sub, decision, reason, model, event"
            " FROM audit_events ORDER BY pos"
        )
        for row in rows:  # the cursor streams; rows are not fetched all at once
            yield StoredRecord(row[0], _parse(row[8]), tuple(row[1:8]))

    def has_seq(self, instance_id: str, seq: int) -> bool:
        query = "SELECT 1 FROM audit_events WHERE instance_id = ? AND seq = ?"
        return self._conn.execute(query, (instance_id, seq)).fetchone() is not None

    def heads(self) -> Mapping[str, ChainHead]:
        rows = self._conn.execute("SELECT instance_id, seq, hash FROM audit_heads")
        return {iid: ChainHead(seq, digest) for iid, seq, digest in rows}

    def anchor(self, instance_id: str) -> ChainHead:
        """Genesis, or the last record retention pruned from this chain."""
        try:
            row = self._conn.execute(
                "SELECT seq, hash FROM audit_anchors WHERE instance_id = ?", (instance_id,)
            ).fetchone()
        except sqlite3.OperationalError:  # a log written before pruning existed
            return ChainHead()
        return ChainHead(row[0], row[1]) if row else ChainHead()


def _parse(raw: str | bytes) -> dict[str, Any]:
    try:
        event = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {}
    return event if isinstance(event, dict) else {}


def verify_sqlite(path: Path) -> VerifyReport:
    """Verify the SQLite audit file at ``path`` (raises ``AuditStoreError`` if unreadable)."""
    try:
        conn = connect(path, readonly=True)
        try:
            return verify(SQLiteChainSource(conn))
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise AuditStoreError(f"cannot read audit log {path}: {exc}") from exc
