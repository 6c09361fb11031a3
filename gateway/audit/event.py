"""The audit event: one per request, on every exit path. Never prompt text, never PII values.

The writer assigns ``seq``, ``prev_hash`` and ``hash`` when it appends the event to its chain,
so chain order is exactly write order. ``hash`` is SHA-256 over the canonical JSON of every
other field plus ``prev_hash``; editing, deleting or reordering a record breaks the chain.
"""

from __future__ import annotations

import dataclasses
import hashlib
import operator
from dataclasses import dataclass, field
from typing import Any

import orjson

GENESIS_HASH = "0" * 64


def canonical_json(body: dict[str, Any]) -> bytes:
    """The canonical JSON of ``body``: sorted keys, no whitespace (what the hash covers)."""
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


def body_hash(body: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of ``body`` (every field but ``hash``).

    The one definition of the chain hash: the writer hashes the dict it stores and ``verify``
    hashes the dict it reads back, so neither depends on how the dataclass round-trips.
    """
    return hashlib.sha256(canonical_json(body)).hexdigest()


@dataclass(slots=True)
class AuditEvent:
    id: str
    ts: float  # unix seconds (UTC)
    request_id: str
    route: str
    action: str
    decision_id: str = ""
    sub: str | None = None
    roles: tuple[str, ...] = ()
    tenant: str | None = None
    auth_method: str | None = None
    requested_model: str | None = None
    served_model: str | None = None
    provider: str | None = None
    resource: dict[str, Any] = field(default_factory=dict)
    allow: bool = False
    reasons: tuple[str, ...] = ()  # stable reason codes
    status: int = 0  # HTTP status returned to the caller
    upstream_status: int | None = None
    stream: bool = False
    guard_entities: dict[str, int] = field(default_factory=dict)  # counts by type, never values
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    latency_ms: dict[str, float] = field(default_factory=dict)  # per stage + "total"
    bundle_revision: str | None = None
    bundle_digest: str | None = None
    # Why, for people: the reasons with their messages and the decision's outcome (served
    # model, guard mode, approval), read back by ``GET /v1/decisions/{decision_id}``.
    explain: dict[str, Any] = field(default_factory=dict)
    # What policy was asked, redacted (``redacted_input``): enough to decide again
    # (``skein policy replay``), never the prompt, tool arguments or the caller's identity
    # (``sub`` and ``tenant`` are fields of the event already).
    policy_input: dict[str, Any] | None = None
    instance_id: str = ""
    seq: int = 0
    prev_hash: str = GENESIS_HASH
    hash: str = ""

    def body(self) -> dict[str, Any]:
        """Every field but ``hash``: what the hash covers."""
        data = self.record()
        data.pop("hash")
        return data

    def record(self) -> dict[str, Any]:
        """Every field, shallow: the same JSON as ``as_dict()`` at a fraction of the cost.

        ``dataclasses.asdict`` deep-copies recursively, which made it most of the audit
        writer's time per event; serializing needs no copy.
        """
        return dict(zip(_FIELDS, _GET_FIELDS(self), strict=True))

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def compute_hash(self) -> str:
        return body_hash(self.body())

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AuditEvent:
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        for key in ("roles", "reasons"):
            values[key] = tuple(values.get(key) or ())
        return cls(**values)


def redacted_input(policy_input: dict[str, Any]) -> dict[str, Any]:
    """The policy input as audit keeps it: shallow copies, no new serialization.

    Dropped: ``principal.sub`` and ``principal.tenant`` (the event's ``sub`` and ``tenant``
    put them back on replay) and ``resource.arguments`` (an MCP tool call's own arguments:
    caller data). What stays is what the Rego reads: roles, action, model, provider, server,
    tool, the request's numbers, the coarse spend and the time.
    """
    kept = dict(policy_input)
    principal = kept.get("principal")
    if isinstance(principal, dict):
        kept["principal"] = {"roles": principal.get("roles", [])}
    resource = kept.get("resource")
    if isinstance(resource, dict) and "arguments" in resource:
        kept["resource"] = {k: v for k, v in resource.items() if k != "arguments"}
        kept["arguments_redacted"] = True
    return kept


_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(AuditEvent))
_GET_FIELDS = operator.attrgetter(*_FIELDS)  # every field at once, in C
