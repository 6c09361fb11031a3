"""The hash chain: where an event goes in its writer's chain, and the record that says so.

``stamp`` gives an event its ``instance_id``, the next ``seq``, the ``prev_hash`` of the
record before it and its own ``hash``, and returns the record as it is stored (one JSON
line): the spool, the SQLite file and Postgres all keep these exact bytes, so a record is
hashed once, when it is stamped, and every store verifies the same way.

``StampedRecord`` is a stored record read back: the parsed event plus the raw JSON, with the
columns that stores index for queries.
"""

from __future__ import annotations

import hashlib
from typing import Any, NamedTuple

import orjson

from gateway.audit.event import GENESIS_HASH, AuditEvent, canonical_json


class ChainHead(NamedTuple):  # tuples: one is made per request, and cheaply
    """The last record of a chain: its ``seq`` (0 before the first) and ``hash``."""

    seq: int = 0
    hash: str = GENESIS_HASH


IndexValues = tuple[float, str | None, str, str | None, str | None]


def index_values(event: dict[str, Any]) -> IndexValues:
    """The queryable copies of an event: (ts, sub, decision, reason, model)."""
    reasons = event.get("reasons") or ()
    return (
        event["ts"],
        event.get("sub"),
        "allow" if event.get("allow") else "deny",
        reasons[0] if reasons else None,
        event.get("served_model") or event.get("requested_model"),
    )


LookupValues = tuple[str | None, str | None]


def lookup_values(event: dict[str, Any]) -> LookupValues:
    """The copies stores keep for lookups by decision and by tool: (decision_id, tool).

    ``tool`` is the MCP tool a message named (``resource.tool``); empty values are NULL.
    """
    resource = event.get("resource")
    tool = resource.get("tool") if isinstance(resource, dict) else None
    decision_id = event.get("decision_id")
    return (
        decision_id if isinstance(decision_id, str) and decision_id else None,
        tool if isinstance(tool, str) and tool else None,
    )


def stamp(event: AuditEvent, instance_id: str, head: ChainHead) -> tuple[StampedRecord, ChainHead]:
    """Put ``event`` right after ``head``; returns the record as stored and the new head.

    A value plain JSON cannot hold (a stray set in ``resource``) is stored, and hashed, as
    its string form rather than failing the request forever.
    """
    seq = head.seq + 1
    event.instance_id, event.seq, event.prev_hash = instance_id, seq, head.hash
    body = event.record()
    body.pop("hash")
    try:
        canonical = canonical_json(body)
    except TypeError:
        body = _json_roundtrip(body)
        canonical = canonical_json(body)
    digest = hashlib.sha256(canonical).hexdigest()
    event.hash = body["hash"] = digest
    # The stored JSON is the canonical JSON the hash covers, with the hash added last: one
    # serialization per record (any key order reads back to the same body).
    raw = canonical[:-1].decode() + f',"hash":"{digest}"}}'
    return StampedRecord(body, raw), ChainHead(seq, digest)


class StampedRecord(NamedTuple):
    """A stamped record as stored: the event and its exact JSON text (which the hash covers)."""

    event: dict[str, Any]
    raw: str

    @classmethod
    def parse(cls, line: bytes | str) -> StampedRecord:
        event = orjson.loads(line)
        if not isinstance(event, dict) or not isinstance(event.get("seq"), int):
            raise ValueError("not a stamped audit record")
        return cls(event, line.decode() if isinstance(line, bytes) else line)

    def line(self) -> bytes:
        """The record as one spool line."""
        return self.raw.encode() + b"\n"

    @property
    def instance_id(self) -> str:
        return str(self.event["instance_id"])

    @property
    def seq(self) -> int:
        seq: int = self.event["seq"]
        return seq

    @property
    def head(self) -> ChainHead:
        """The chain head once this record is stored."""
        return ChainHead(self.seq, str(self.event["hash"]))


def _json_roundtrip(body: dict[str, Any]) -> dict[str, Any]:
    raw = orjson.dumps(body, default=str, option=orjson.OPT_NON_STR_KEYS)
    safe: dict[str, Any] = orjson.loads(raw)
    return safe
