"""The shadow bundle: a second bundle asked beside the active one, never served.

With ``bundle.shadow_path`` set, the policy decision of every model call (and MCP message
to one server) is handed, with its input, to a bounded queue (``bundle.shadow_queue_size``)
as soon as the live decision is taken; a background task of the lifespan drains it, asks
the shadow bundle the same question and compares the answers (``gateway.replay.difference``).
The request never waits: ``submit`` is one ``put_nowait``, and when the queue is full the
decision is not shadowed and ``skein_shadow_dropped_total`` counts it (shadowing is a
sample, not an obligation).

Disagreements are counted in ``skein_shadow_disagreements_total{kind}`` and logged (the
``skein.shadow`` logger, one warning each, with the decision id, so the audit record of the
call is one lookup away). The evaluation runs on the event loop's thread, as every embedded
engine must, between requests; one per loop turn.

The shadow bundle is loaded like a candidate (``gateway.replay.candidate_store``: verified
with the gateway's trust, exercised, compiled) and checked for a new file every
``bundle.poll_interval_seconds``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from contextlib import AsyncExitStack
from typing import Any

from gateway.bundle.store import BundleError, BundleStore
from gateway.domain import Decision
from gateway.errors import Unavailable
from gateway.metrics import Metrics
from gateway.policy.embedded import EmbeddedEngine
from gateway.replay import Outcome, candidate_store, decide_again, difference
from gateway.settings import Settings

log = logging.getLogger("skein.shadow")

Item = tuple[dict[str, Any], Decision, str]


class Shadow:
    def __init__(self, store: BundleStore, metrics: Metrics, size: int) -> None:
        self._store = store
        self._metrics = metrics
        self._queue: asyncio.Queue[Item] = asyncio.Queue(size)

    def submit(self, policy_input: dict[str, Any], decision: Decision, decision_id: str) -> None:
        """Queue a live decision for comparison; never blocks, drops (counted) when full."""
        try:
            self._queue.put_nowait((policy_input, decision, decision_id))
        except asyncio.QueueFull:
            self._metrics.count_shadow_dropped()

    async def drain(self) -> None:
        """The background task: compare queued decisions, one per turn of the loop."""
        while True:
            item = await self._queue.get()
            self.compare(*item)
            await asyncio.sleep(0)  # let requests run between evaluations

    async def poll(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            await self._store.refresh()

    def compare(self, policy_input: dict[str, Any], live: Decision, decision_id: str) -> str | None:
        """Ask the shadow bundle; count (and log) a disagreement. ``None``: they agree, or
        there is no shadow bundle loaded to ask."""
        try:
            bundle = self._store.current()
        except Unavailable:
            return None
        assert isinstance(bundle.engine, EmbeddedEngine)  # candidate_store compiles embedded
        before = Outcome.of(live)
        after = decide_again(bundle.engine, policy_input)
        kind = "error" if after is None else difference(before, after)
        self._metrics.count_shadow(kind)
        if kind is not None:
            log.warning(
                "shadow bundle %s disagrees (%s) on decision %s",
                bundle.revision,
                kind,
                decision_id,
                extra={
                    "decision_id": decision_id,
                    "kind": kind,
                    "shadow_revision": bundle.revision,
                    "live": before.as_dict(),
                    "shadow": after.as_dict() if after is not None else None,
                },
            )
        return kind


async def open_shadow(settings: Settings, metrics: Metrics, stack: AsyncExitStack) -> Shadow | None:
    """The shadow bundle's store, its drain and its poll, for the lifespan (``None``: none
    configured). A shadow bundle that cannot be loaded is logged, not fatal: it never serves."""
    path = settings.bundle.shadow_path
    if path is None:
        return None
    store = candidate_store(settings, path)
    stack.push_async_callback(store.aclose)
    try:
        await store.load()
    except BundleError as exc:
        log.warning("shadow bundle %s not loaded [%s]: %s", path, exc.reason, exc)
    shadow = Shadow(store, metrics, settings.bundle.shadow_queue_size)
    loop = asyncio.get_running_loop()
    for task in (
        loop.create_task(shadow.drain(), name="skein-shadow"),
        loop.create_task(shadow.poll(settings.bundle.poll_interval_seconds), name="skein-shadow-poll"),
    ):
        stack.push_async_callback(_stop, task)
    return shadow


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
