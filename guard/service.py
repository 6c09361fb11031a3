"""The async facade the gateway calls: ``Guard.protect(parts, policy, tenant)``.

It owns the backend (worker processes or threads), applies the timeout and the
fail-closed rule, asks the optional second opinion, and turns detections into the
mode's result. The pseudonym map it returns lives only for the call.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from guard import chunking
from guard.detector import DetectorSettings, is_allowed, resolve_overlaps
from guard.errors import GuardBlocked, GuardConfigError, GuardError, GuardUnavailable
from guard.jsontext import JsonStrings
from guard.keys import KeyProvider
from guard.ollama_ner import OllamaNer
from guard.policy import Detection, GuardPolicy, GuardResult, Mode
from guard.pool import Backend, ProcessBackend, ThreadBackend
from guard.pseudonyms import Signer
from guard.transform import apply_mode

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class GuardSettings:
    detector: DetectorSettings = field(default_factory=DetectorSettings)
    executor: Literal["process", "thread"] = "process"
    workers: int = 0  # 0: one per CPU core
    timeout_s: float = 2.0  # per call, unless the policy sets its own
    # Calls with more text than twice this are cut at sentence ends and spread over the
    # workers; smaller pieces cost more in messaging than they save in NER time.
    split_min_chars: int = 500


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

    async def detect(self, parts: Sequence[str], policy: GuardPolicy) -> list[list[Detection]]:
        """Detections per part. Raises ``GuardUnavailable`` on failure (no fail-open here)."""
        timeout = policy.timeout_s or self.settings.timeout_s
        batches = chunking.plan(parts, self._backend.workers, self.settings.split_min_chars)
        try:
            async with asyncio.timeout(timeout):
                found = await asyncio.gather(
                    *(self._backend.detect([p.text for p in batch], policy, timeout) for batch in batches)
                )
        except TimeoutError as exc:
            raise GuardUnavailable("detection timed out") from exc
        merged = chunking.merge(len(parts), batches, found)
        if policy.second_opinion and self._second is not None:
            merged = await self._add_second_opinion(parts, merged, policy)
        return merged

    async def protect(self, parts: Sequence[str], policy: GuardPolicy, tenant: str) -> GuardResult:
        """Apply ``policy`` to the text parts of one call.

        Raises ``GuardBlocked`` (mode block and PII found) or ``GuardUnavailable``
        (detection or key failure, unless ``policy.fail_open``).
        """
        if policy.mode is Mode.OFF or not parts:
            return GuardResult(policy.mode, tuple(parts), {}, {})
        try:
            detections = await self.detect(parts, policy)
            signer = await self._signer(policy, tenant)
            if signer is not None and self._keys.remote:
                return await asyncio.to_thread(apply_mode, policy.mode, parts, detections, signer)
            return apply_mode(policy.mode, parts, detections, signer)
        except (GuardBlocked, GuardConfigError):
            raise  # a verdict or a misconfiguration, not an outage: never fail open
        except Exception as exc:
            if not policy.fail_open:
                if isinstance(exc, GuardUnavailable):
                    raise
                raise GuardUnavailable(f"guard failed: {type(exc).__name__}") from exc
            # The profile explicitly accepts forwarding unguarded text over refusing.
            log.warning("guard failed open: %s", type(exc).__name__)
            return GuardResult(policy.mode, tuple(parts), {}, {}, degraded=True)

    async def protect_json(self, text: str, policy: GuardPolicy, tenant: str) -> tuple[str, GuardResult]:
        """Guard the string values of a JSON document held in a string (tool-call
        arguments); the returned text is still valid JSON. Not JSON: guarded as text."""
        doc = JsonStrings.parse(text)
        if doc is None:
            result = await self.protect([text], policy, tenant)
            return result.parts[0], result
        result = await self.protect(doc.parts, policy, tenant)
        return doc.rebuild(result.parts), result

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


def _make_backend(settings: GuardSettings) -> Backend:
    if settings.executor == "thread":
        return ThreadBackend(settings.detector, settings.workers or 1)
    return ProcessBackend(settings.detector, settings.workers or os.cpu_count() or 1)
