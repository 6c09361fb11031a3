"""The async facade the gateway calls: ``Guard.protect(parts, policy, tenant, caller=...)``.

It owns the backend (worker processes or threads) and the fair capacity rules
(``guard.admission``), applies the size limit, the work timeout and the fail-closed rule,
asks the optional second opinion, and turns detections into the mode's result. The
pseudonym map it returns lives only for the call.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from guard import boundaries, chunking, encoded
from guard.admission import Admission, FairScheduler
from guard.detector import DetectorSettings
from guard.errors import (
    GuardBlocked,
    GuardBusy,
    GuardConfigError,
    GuardError,
    GuardTooLarge,
    GuardUnavailable,
)
from guard.jsontext import JsonStrings
from guard.keys import KeyProvider
from guard.ollama_ner import OllamaNer
from guard.policy import Detection, GuardPolicy, GuardResult, Mode
from guard.pool import Backend, ProcessBackend, ThreadBackend
from guard.pseudonyms import Signer
from guard.spans import is_allowed, resolve_overlaps
from guard.transform import apply_mode

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class GuardSettings:
    """The guard's machinery. Capacity defaults are sized by measurement on the 2-core
    target box (docs/guard.md, "Capacity")."""

    detector: DetectorSettings = field(default_factory=DetectorSettings)
    executor: Literal["process", "thread"] = "process"
    workers: int = 0  # 0: one per CPU core
    # Work limit for ONE batch on a worker (queue wait is not counted), unless the policy
    # sets its own. A batch is at most batch_chars: ~15 ms of work, ~60 ms on a busy box.
    timeout_s: float = 5.0
    # Calls with more text than twice this are cut at sentence ends and spread over the
    # workers; smaller pieces cost more in messaging than they save in NER time.
    split_min_chars: int = 500
    batch_chars: int = 8000  # the scheduling unit: longer calls become several batches
    max_chars: int = 200_000  # text per call; more is GuardTooLarge (413)
    per_caller: int = 8  # calls of one caller inside the guard at once; more is GuardBusy
    max_pending: int = 512  # calls inside the guard at once, all callers
    queue_timeout_s: float = 10.0  # longest wait of a batch for a worker; then GuardBusy

    def __post_init__(self) -> None:
        numbers = {
            "timeout_s": self.timeout_s,
            "batch_chars": self.batch_chars,
            "max_chars": self.max_chars,
            "per_caller": self.per_caller,
            "max_pending": self.max_pending,
            "queue_timeout_s": self.queue_timeout_s,
        }
        for name, value in numbers.items():
            if value <= 0:
                raise GuardConfigError(f"guard setting {name} must be positive")
        if self.workers < 0:
            raise GuardConfigError("guard setting workers must be 0 (one per core) or more")


class Guard:
    """Construct once in the app's lifespan, ``await start()``, share across requests."""

    def __init__(
        self,
        keys: KeyProvider,
        settings: GuardSettings | None = None,
        *,
        second_opinion: OllamaNer | None = None,
        backend: Backend | None = None,
    ) -> None:
        self.settings = settings or GuardSettings()
        self._keys = keys
        self._second = second_opinion
        self._backend = backend or _make_backend(self.settings)
        self._scheduler = FairScheduler(self._backend.workers)
        self._admission = Admission(self.settings.per_caller, self.settings.max_pending, self._scheduler)

    async def start(self) -> None:
        await self._backend.start()

    async def aclose(self) -> None:
        await self._backend.aclose()
        if self._second is not None:
            await self._second.aclose()

    async def __aenter__(self) -> Guard:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def detect(
        self, parts: Sequence[str], policy: GuardPolicy, *, caller: str = "-"
    ) -> list[list[Detection]]:
        """Detections per part. Raises ``GuardUnavailable`` on failure (no fail-open here),
        ``GuardBusy`` when no worker was free within ``queue_timeout_s``."""
        work_timeout = policy.timeout_s or self.settings.timeout_s
        batches = chunking.plan(
            parts, self._backend.workers, self.settings.split_min_chars, self.settings.batch_chars
        )
        # A long call feeds its batches to the queue no faster than the workers can take
        # them, so queue_timeout_s measures waiting behind OTHER work, not behind itself.
        in_queue = asyncio.Semaphore(self._backend.workers)

        async def run(texts: list[str]) -> list[list[Detection]]:
            async with in_queue:
                return await self._run_batch(texts, policy, caller, work_timeout)

        found = await asyncio.gather(*(run([p.text for p in batch]) for batch in batches))
        merged = chunking.merge(len(parts), batches, found)
        merged = await self._across_parts(parts, merged, policy, caller, work_timeout)
        if policy.second_opinion and self._second is not None:
            merged = await self._add_second_opinion(parts, merged, policy)
        return merged

    async def _across_parts(
        self,
        parts: Sequence[str],
        found: list[list[Detection]],
        policy: GuardPolicy,
        caller: str,
        work_timeout: float,
    ) -> list[list[Detection]]:
        """Add what only shows when adjacent parts are read together (guard.boundaries)."""
        spanning = policy.wanted() & boundaries.SPANNING
        seams = boundaries.junctions(parts) if spanning else []
        if not seams:
            return found
        seam_policy = dataclasses.replace(policy, entities=spanning, patterns=(), second_opinion=False)
        seam_found = await self._run_batch([s.text for s in seams], seam_policy, caller, work_timeout)
        return boundaries.merge(parts, found, seams, seam_found)

    async def _run_batch(
        self, texts: list[str], policy: GuardPolicy, caller: str, work_timeout: float
    ) -> list[list[Detection]]:
        try:
            async with asyncio.timeout(self.settings.queue_timeout_s):
                await self._scheduler.acquire(caller)
        except TimeoutError as exc:
            raise GuardBusy(self._admission.retry_after(), caller_limit=False) from exc
        started = time.perf_counter()
        try:
            async with asyncio.timeout(work_timeout):
                found = await self._backend.detect(texts, policy, work_timeout)
        except TimeoutError as exc:
            raise GuardUnavailable("detection timed out") from exc
        finally:
            self._scheduler.release()
        self._scheduler.record(time.perf_counter() - started)
        return found

    async def protect(
        self, parts: Sequence[str], policy: GuardPolicy, tenant: str, *, caller: str | None = None
    ) -> GuardResult:
        """Apply ``policy`` to the text parts of one call.

        ``caller`` names whose capacity share the call uses (a user or an API key); without
        it only the overall bound applies, and batches queue under the tenant's name.
        Raises ``GuardBlocked`` (mode block and PII found),
        ``GuardTooLarge`` (more than ``max_chars`` of text), ``GuardBusy`` (the caller is
        over its share or the guard is saturated: retry later) or ``GuardUnavailable``
        (detection or key failure, unless ``policy.fail_open``). Size and capacity
        refusals never fail open: they say nothing about the text.
        """
        if policy.mode is Mode.OFF or not parts:
            return GuardResult(policy.mode, tuple(parts), {}, {})
        size = sum(len(p) for p in parts)
        if size > self.settings.max_chars:
            raise GuardTooLarge(size, self.settings.max_chars)
        async with self._admission.admit(caller):
            return await self._protect(parts, policy, tenant, caller or tenant)

    async def _protect(
        self, parts: Sequence[str], policy: GuardPolicy, tenant: str, caller: str
    ) -> GuardResult:
        try:
            inner: GuardResult | None = None
            if policy.decode_base64:
                parts, inner = await self._guard_encoded(parts, policy, tenant, caller)
            detections = await self.detect(parts, policy, caller=caller)
            signer = await self._signer(policy, tenant)
            if signer is not None and self._keys.remote:
                result = await asyncio.to_thread(apply_mode, policy.mode, parts, detections, signer)
            else:
                result = apply_mode(policy.mode, parts, detections, signer)
            return result if inner is None else _combined(result, inner)
        except (GuardBlocked, GuardConfigError, GuardBusy):
            raise  # a verdict, a misconfiguration or back-pressure, not an outage: never fail open
        except Exception as exc:
            if not policy.fail_open:
                if isinstance(exc, GuardUnavailable):
                    raise
                raise GuardUnavailable(f"guard failed: {type(exc).__name__}") from exc
            # The profile explicitly accepts forwarding unguarded text over refusing.
            log.warning("guard failed open: %s", type(exc).__name__)
            return GuardResult(policy.mode, tuple(parts), {}, {}, degraded=True)

    async def protect_json(
        self, text: str, policy: GuardPolicy, tenant: str, *, caller: str | None = None
    ) -> tuple[str, GuardResult]:
        """Guard the string values of a JSON document held in a string (tool-call
        arguments); the returned text is still valid JSON. Not JSON: guarded as text."""
        doc = JsonStrings.parse(text)
        if doc is None:
            result = await self.protect([text], policy, tenant, caller=caller)
            return result.parts[0], result
        result = await self.protect(doc.parts, policy, tenant, caller=caller)
        return doc.rebuild(result.parts), result

    async def _guard_encoded(
        self, parts: Sequence[str], policy: GuardPolicy, tenant: str, caller: str
    ) -> tuple[list[str], GuardResult | None]:
        """Guard the text inside base64 runs first; the runs are re-encoded from the
        guarded text, so the parts' own pass sees them already masked (guard.encoded)."""
        found = [encoded.find(part) for part in parts]
        blobs = [blob for part in found for blob in part]
        if not blobs:
            return list(parts), None
        plain = dataclasses.replace(policy, decode_base64=False)
        inner = await self._protect([b.text for b in blobs], plain, tenant, caller)
        guarded = iter(inner.parts)
        rebuilt = [
            encoded.replace(part, part_blobs, [next(guarded) for _ in part_blobs])
            for part, part_blobs in zip(parts, found, strict=True)
        ]
        return rebuilt, inner

    async def _signer(self, policy: GuardPolicy, tenant: str) -> Signer | None:
        if policy.mode is not Mode.PSEUDONYMIZE:
            return None
        if self._keys.remote:
            return await asyncio.to_thread(self._keys.signer, tenant)
        return self._keys.signer(tenant)

    async def _add_second_opinion(
        self, parts: Sequence[str], merged: list[list[Detection]], policy: GuardPolicy
    ) -> list[list[Detection]]:
        assert self._second is not None
        try:
            extra = await asyncio.gather(*(self._second.find(p) for p in parts))
        except GuardError:
            return merged
        return [
            resolve_overlaps(first + [d for d in more if self._keep(d, text, policy)])
            for text, first, more in zip(parts, merged, extra, strict=True)
        ]

    @staticmethod
    def _keep(det: Detection, text: str, policy: GuardPolicy) -> bool:
        return det.entity in policy.entities and not is_allowed(text[det.start : det.end], policy.allow_list)


def _combined(outer: GuardResult, inner: GuardResult) -> GuardResult:
    """The parts' result with the findings inside their base64 runs added."""
    counts = dict(outer.counts)
    for entity, number in inner.counts.items():
        counts[entity] = counts.get(entity, 0) + number
    return dataclasses.replace(
        outer,
        counts=counts,
        mapping={**inner.mapping, **outer.mapping},
        degraded=outer.degraded or inner.degraded,
    )


def _make_backend(settings: GuardSettings) -> Backend:
    if settings.executor == "thread":
        return ThreadBackend(settings.detector, settings.workers or 1)
    return ProcessBackend(settings.detector, settings.workers or os.cpu_count() or 1)
