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

Gaps do not stop the walk: every missing range of every chain is reported (``gaps``), and
the record after a gap is checked from there on (its link to the lost record cannot be).
Any other problem stops the walk and is reported with its seq.

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

from gateway.audit.chain import lookup_values
from gateway.audit.event import body_hash
from gateway.audit.sink import AuditStoreError
from gateway.audit.sqlite import ChainHead, connect, has_lookup_columns, index_values

ProblemKind = Literal[
    "edited", "missing", "reordered", "duplicate", "bad_genesis", "broken_link", "truncated", "malformed"
]


_MAX_GAPS = 1000  # reported individually; beyond this only counted


@dataclass(frozen=True, slots=True)
class StoredRecord:
    pos: int  # storage order
    event: dict[str, Any]
    columns: Mapping[str, Any] | None = None  # the indexed copies stored beside it, by name


def expected_columns(event: Mapping[str, Any]) -> dict[str, Any]:
    """What each indexed column must hold for ``event``."""
    ts, sub, decision, reason, model = index_values(dict(event))
    decision_id, tool = lookup_values(dict(event))
    return {
        "decision_id": decision_id,
        "tool": tool,
        "instance_id": event.get("instance_id"),
        "seq": event.get("seq"),
        "ts": ts,
        "sub": sub,
        "decision": decision,
        "reason": reason,
        "model": model,
        "status": event.get("status"),
    }


@dataclass(frozen=True, slots=True)
class Problem:
    instance_id: str
    seq: int
    kind: ProblemKind
    detail: str
    last: int | None = None  # a missing range ends here

    def __str__(self) -> str:
        return f"seq {self.seq} (chain {self.instance_id!r}): {self.kind}: {self.detail}"

    @property
    def missing(self) -> int:
        """How many records this problem says are gone (0: none, or not a gap)."""
        if self.kind in ("missing", "truncated") and self.last is not None:
            return self.last - self.seq + 1
        return 0


@dataclass(frozen=True, slots=True)
class ChainSummary:
    instance_id: str
    records: int
    head: ChainHead


@dataclass(frozen=True, slots=True)
class VerifyReport:
    records: int
    chains: tuple[ChainSummary, ...]
    problems: tuple[Problem, ...] = ()
    more_gaps: int = 0  # gaps found beyond the ones listed

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def problem(self) -> Problem | None:
        """The first problem found."""
        return self.problems[0] if self.problems else None

    @property
    def gaps(self) -> tuple[Problem, ...]:
        """Every missing range (deleted records, a cut tail), per chain, in storage order."""
        return tuple(p for p in self.problems if p.missing)

    def summary(self) -> str:
        if self.problems:
            return self._broken()
        heads = ", ".join(f"{c.instance_id} seq {c.head.seq} head {c.head.hash[:16]}" for c in self.chains)
        plural = "" if len(self.chains) == 1 else "s"
        return f"audit log intact: {self.records} records in {len(self.chains)} chain{plural}" + (
            f" ({heads})" if heads else ""
        )

    def _broken(self) -> str:
        gaps = self.gaps
        lost = sum(g.missing for g in gaps)
        lines = [f"audit log BROKEN ({self.records} records checked)"]
        if gaps:
            more = f" and {self.more_gaps} more gaps" if self.more_gaps else ""
            lines.append(f"  {len(gaps)} missing ranges{more}, {lost} records:")
            lines += [f"    chain {g.instance_id!r}: seq {_span(g)}" for g in gaps]
        lines += [f"  at {p}" for p in self.problems if not p.missing]
        return "\n".join(lines)


def _span(gap: Problem) -> str:
    return f"{gap.seq}" if gap.last in (None, gap.seq) else f"{gap.seq}..{gap.last}"


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
    gaps: list[Problem] = []
    more_gaps = total = 0
    for record in source.records():
        event = record.event
        instance_id = _instance_of(record)
        chain = chains.get(instance_id)
        if chain is None:
            chain = chains[instance_id] = _Chain(source.anchor(instance_id))
        problem = _check_record(source, chain, record)
        if problem is not None and problem.kind != "missing":
            return VerifyReport(total, _summaries(chains), (*gaps, problem), more_gaps)
        if problem is not None:  # a gap: report it, carry on from this record
            if len(gaps) < _MAX_GAPS:
                gaps.append(problem)
            else:
                more_gaps += 1
        chain.seq, chain.prev = event["seq"], event["hash"]
        chain.count += 1
        total += 1
    end = _check_heads(source.heads(), chains)
    return VerifyReport(total, _summaries(chains), (*gaps, *([end] if end else [])), more_gaps)


def _check_record(source: ChainSource, chain: _Chain, record: StoredRecord) -> Problem | None:
    event = record.event
    instance_id = _instance_of(record)
    seq = event.get("seq")
    if not isinstance(seq, int) or not isinstance(event.get("hash"), str):
        at = record.columns.get("seq") if record.columns else None
        at = at if isinstance(at, int) else chain.seq + 1
        return Problem(instance_id, at, "malformed", f"the record at position {record.pos} is not an event")
    found = _check_content(record) or _check_order(source, chain, instance_id, seq)
    if found is None:
        found = _check_link(chain, event)
    elif found[1] == "missing":
        return Problem(instance_id, found[0], "missing", found[2], last=seq - 1)
    return Problem(instance_id, found[0], found[1], found[2]) if found else None


Finding = tuple[int, ProblemKind, str]


def _instance_of(record: StoredRecord) -> str:
    # An unreadable record still belongs to the chain its stored columns name.
    if "instance_id" in record.event or record.columns is None:
        return str(record.event.get("instance_id", ""))
    return str(record.columns.get("instance_id", ""))


def _check_content(record: StoredRecord) -> Finding | None:
    event = record.event
    body = dict(event)
    stored = body.pop("hash")
    if body_hash(body) != stored:
        return event["seq"], "edited", "the record's content does not match its hash"
    if record.columns is None:
        return None
    expected = expected_columns(event)
    for name, column in record.columns.items():
        if column != expected.get(name):
            value = expected.get(name)
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
                instance_id,
                last + 1,
                "truncated",
                f"records after seq {last} up to {head.seq} are gone",
                last=head.seq,
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


_SQLITE_COLUMNS = ("instance_id", "seq", "ts", "sub", "decision", "reason", "model")
_LOOKUP_COLUMNS = ("decision_id", "tool")


class SQLiteChainSource:
    """A ``ChainSource`` over the SQLite audit file (read-only)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        # A file no newer gateway has opened yet has no lookup columns: nothing to check there.
        self._columns = _SQLITE_COLUMNS + (_LOOKUP_COLUMNS if has_lookup_columns(conn) else ())

    def records(self) -> Iterator[StoredRecord]:
        columns = self._columns
        rows = self._conn.execute(f"SELECT pos, {', '.join(columns)}, event FROM audit_events ORDER BY pos")
        for row in rows:  # the cursor streams; rows are not fetched all at once
            values = dict(zip(columns, row[1:-1], strict=True))
            yield StoredRecord(row[0], _parse(row[-1]), values)

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
