"""Decide recorded calls again with another bundle: replay (``skein policy replay``, the
explorer's diff) and the shadow bundle on live traffic share this comparison.

A recorded call keeps its policy input, redacted (``gateway.audit.event.redacted_input``):
the caller's ``sub`` and ``tenant`` come back from the event's own fields, the time is the
recorded one, so a replay is deterministic. What is compared is the *policy's* decision,
as recorded in ``explain.decision``: allow, the served model, the guard mode, the approval
flag and the reason codes. The profile re-check that follows the policy live
(``gateway/stages/guardrails.py``) is not replayed. An MCP tool call's arguments and a
resource URI are never recorded; a rule that reads them sees none on replay, and such a
change is marked ``partial``.

A candidate is loaded like any bundle: fetched from its file, verified with the configured
trust (``bundle.trusted_keys`` / Sigstore; unverified only where verification is off),
exercised in a child process and compiled (``BundleStore``), always for the embedded engine.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import AsyncIterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.bundle.signed import FileSource
from gateway.bundle.store import ActiveBundle, BundleStore
from gateway.bundle.trust import Trust
from gateway.domain import Decision
from gateway.errors import GatewayError
from gateway.policy.embedded import EmbeddedEngine
from gateway.settings import Settings

MAX_CHANGES = 1000  # listed in a report; more are only counted
_YIELD_EVERY = 64  # decisions replayed between two turns of the event loop


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a decision said, in the terms replay compares."""

    allow: bool
    model: str | None = None
    guard: str | None = None
    approval_required: bool = False
    reasons: tuple[str, ...] = ()

    @classmethod
    def of(cls, decision: Decision) -> Outcome:
        return cls(
            decision.allow,
            decision.model,
            decision.guard.mode,
            decision.approval_required,
            tuple(r.code for r in decision.reasons),
        )

    @classmethod
    def recorded(cls, event: Mapping[str, Any]) -> Outcome | None:
        """The policy's decision as the event recorded it (``None``: it recorded none)."""
        explain = event.get("explain")
        decided = explain.get("decision") if isinstance(explain, dict) else None
        if not isinstance(decided, dict) or not isinstance(decided.get("allow"), bool):
            return None
        reasons = decided.get("reasons")
        return cls(
            decided["allow"],
            decided.get("model"),
            decided.get("guard"),
            bool(decided.get("approval_required")),
            tuple(str(r) for r in reasons) if isinstance(reasons, list) else (),
        )

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def difference(before: Outcome, after: Outcome) -> str | None:
    """How ``after`` differs from ``before`` (a ``SHADOW_KINDS`` value), or ``None``."""
    if before.allow != after.allow:
        return "allow_to_deny" if before.allow else "deny_to_allow"
    if before.model != after.model:
        return "model"
    if before.guard != after.guard:
        return "guard"
    if before.approval_required != after.approval_required:
        return "approval"
    if sorted(before.reasons) != sorted(after.reasons):
        return "reasons"
    return None


def replay_input(event: Mapping[str, Any]) -> dict[str, Any]:
    """The policy input of a recorded call, as it was asked (bar what audit never keeps)."""
    recorded = event["policy_input"]
    policy_input = {k: v for k, v in recorded.items() if k != "redacted"}
    principal = recorded.get("principal")
    roles = principal.get("roles", []) if isinstance(principal, dict) else []
    policy_input["principal"] = {
        "sub": event.get("sub"),
        "roles": roles,
        "tenant": event.get("tenant") or "default",
    }
    return policy_input


@dataclass(slots=True)
class ReplayReport:
    revision: str
    digest: str
    replayed: int = 0
    unchanged: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    changes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def changed(self) -> int:
        return sum(self.by_kind.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "candidate": {"revision": self.revision, "digest": self.digest},
            "replayed": self.replayed,
            "unchanged": self.unchanged,
            "changed": self.changed,
            "by_kind": dict(sorted(self.by_kind.items())),
            "changes": self.changes,
            "changes_listed": len(self.changes),
        }


def decide_again(engine: EmbeddedEngine, policy_input: dict[str, Any]) -> Outcome | None:
    """The candidate's outcome; ``None`` when its engine fails on this input."""
    try:
        return Outcome.of(engine.decide_sync(policy_input))
    except GatewayError:
        return None


async def replay(bundle: ActiveBundle, events: AsyncIterable[Mapping[str, Any]]) -> ReplayReport:
    """Decide each recorded call with ``bundle``; the report lists what changed."""
    engine = bundle.engine
    assert isinstance(engine, EmbeddedEngine), "candidates are compiled for the embedded engine"
    report = ReplayReport(bundle.revision, bundle.digest)
    async for event in events:
        if report.replayed % _YIELD_EVERY == _YIELD_EVERY - 1:
            await asyncio.sleep(0)  # in the gateway: other requests run between batches
        before = Outcome.recorded(event)
        if before is None:
            continue
        report.replayed += 1
        after = decide_again(engine, replay_input(event))
        kind = "error" if after is None else difference(before, after)
        if kind is None:
            report.unchanged += 1
            continue
        report.by_kind[kind] = report.by_kind.get(kind, 0) + 1
        if len(report.changes) < MAX_CHANGES:
            report.changes.append(_change(event, kind, before, after))
    return report


def _change(event: Mapping[str, Any], kind: str, before: Outcome, after: Outcome | None) -> dict[str, Any]:
    recorded = event["policy_input"]
    resource = recorded.get("resource") if isinstance(recorded.get("resource"), dict) else {}
    return {
        "decision_id": event.get("decision_id"),
        "ts": event.get("ts"),
        "sub": event.get("sub"),
        "roles": event.get("roles"),
        "action": recorded.get("action"),
        "model": resource.get("model"),
        "tool": resource.get("tool"),
        "kind": kind,
        "before": before.as_dict(),
        "after": after.as_dict() if after is not None else None,
        "partial": bool(recorded.get("redacted")),
    }


def candidate_store(settings: Settings, path: Path) -> BundleStore:
    """A store for one candidate file, verified with the gateway's trust, embedded engine."""
    trust = Trust.from_settings(settings.bundle, dev_mode=settings.dev.enabled)
    policy = settings.policy.model_copy(update={"engine": "embedded"})
    return BundleStore(settings.bundle, policy, source=FileSource(path, trust))


async def load_candidate(settings: Settings, path: Path) -> ActiveBundle:
    """Fetch, verify, exercise and compile the candidate at ``path``; raises ``BundleError``."""
    bundle = await candidate_store(settings, path).load()
    assert bundle is not None  # a forced load never reports "unchanged"
    return bundle


#: A candidate's file name: letters, digits, ``._-``, ending in ``.tar.gz`` (no paths).
CANDIDATE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,120}\.tar\.gz")
_KEEP_COMPILED = 4


class Candidates:
    """The signed candidate bundles in ``bundle.candidates_dir`` (the explorer's replays).

    A candidate is loaded (verified, exercised, compiled) on first use and kept while its
    file is unchanged; a few at most, on the loop's thread like every embedded engine."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._directory = settings.bundle.candidates_dir
        self._loaded: dict[str, tuple[tuple[int, int, int], ActiveBundle]] = {}
        self._lock = asyncio.Lock()

    def names(self) -> list[str]:
        if self._directory is None or not self._directory.is_dir():
            return []
        return sorted(
            p.name for p in self._directory.iterdir() if CANDIDATE_NAME.fullmatch(p.name) and p.is_file()
        )

    async def load(self, name: str) -> ActiveBundle | None:
        """The compiled candidate ``name``; ``None`` when there is no such candidate.
        Raises ``BundleError`` when the file is refused."""
        if self._directory is None or not CANDIDATE_NAME.fullmatch(name) or name not in self.names():
            return None
        path = self._directory / name
        async with self._lock:
            info = path.stat()
            stamp = (info.st_ino, info.st_mtime_ns, info.st_size)
            kept = self._loaded.get(name)
            if kept is not None and kept[0] == stamp:
                return kept[1]
            bundle = await load_candidate(self._settings, path)
            if len(self._loaded) >= _KEEP_COMPILED:
                self.release()
            self._loaded[name] = (stamp, bundle)
            return bundle

    def release(self) -> None:
        """Drop the compiled candidates here, on the loop's thread that made them (at shutdown
        too: left to the garbage collector, an engine may be dropped on another thread)."""
        for _, bundle in self._loaded.values():
            if isinstance(bundle.engine, EmbeddedEngine):
                bundle.engine.release()
        self._loaded.clear()
