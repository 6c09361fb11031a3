"""Fair capacity: per-caller shares, the overall bound, round-robin scheduling of batches,
queue wait apart from work time, and the size limit. A gated backend makes every
interleaving deterministic: nothing here depends on how fast the machine is."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest

from guard import (
    FileKeyProvider,
    Guard,
    GuardBusy,
    GuardPolicy,
    GuardResult,
    GuardSettings,
    GuardTooLarge,
    GuardUnavailable,
    Mode,
)
from guard.detector import Detector
from guard.policy import Detection
from guard.pool import ThreadBackend

POLICY = GuardPolicy(mode=Mode.MASK)


class GatedBackend:
    """One worker; each batch waits until the test opens the gate, and is logged."""

    workers = 1

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.log: list[str] = []
        self.started = asyncio.Event()

    async def start(self) -> None: ...

    async def aclose(self) -> None: ...

    async def detect(
        self, texts: Sequence[str], policy: GuardPolicy, timeout_s: float
    ) -> list[list[Detection]]:
        self.log.append(texts[0][:1])
        self.started.set()
        await self.gate.wait()
        return [[] for _ in texts]


def make_guard(tmp_path: Path, backend: GatedBackend, **settings: object) -> Guard:
    return Guard(FileKeyProvider(tmp_path), GuardSettings(**settings), backend=backend)  # type: ignore[arg-type]


async def test_a_caller_over_its_share_is_busy_and_others_are_served(tmp_path: Path) -> None:
    backend = GatedBackend()
    guard = make_guard(tmp_path, backend, per_caller=2)
    flood = [asyncio.create_task(guard.protect(["a"], POLICY, "acme", caller="flooder")) for _ in range(2)]
    await backend.started.wait()
    with pytest.raises(GuardBusy) as refused:
        await guard.protect(["a"], POLICY, "acme", caller="flooder")
    assert refused.value.caller_limit and refused.value.retry_after >= 1
    other = asyncio.create_task(guard.protect(["b"], POLICY, "acme", caller="someone-else"))
    backend.gate.set()
    assert (await other).parts == ("b",)
    await asyncio.gather(*flood)
    # Once its calls are done the flooder may come back.
    assert (await guard.protect(["a"], POLICY, "acme", caller="flooder")).parts == ("a",)


async def test_the_guard_holds_at_most_max_pending_calls(tmp_path: Path) -> None:
    backend = GatedBackend()
    guard = make_guard(tmp_path, backend, max_pending=3)
    held = [asyncio.create_task(guard.protect(["a"], POLICY, "acme", caller=f"u{i}")) for i in range(3)]
    await backend.started.wait()
    with pytest.raises(GuardBusy) as refused:
        await guard.protect(["a"], POLICY, "acme", caller="u9")
    assert not refused.value.caller_limit
    backend.gate.set()
    await asyncio.gather(*held)


async def test_batches_are_served_round_robin_over_callers(tmp_path: Path) -> None:
    """A caller's long request is many batches; another caller's one batch runs after at
    most one more of them, not after all."""
    backend = GatedBackend()
    guard = make_guard(tmp_path, backend, batch_chars=1000, split_min_chars=100, max_chars=100_000)
    long_text = "A" + "aaaa. " * 1600  # ~9,600 characters: ten batches
    flood = asyncio.create_task(guard.protect([long_text], POLICY, "acme", caller="flooder"))
    await backend.started.wait()
    ordinary = asyncio.create_task(guard.protect(["b ordinary question"], POLICY, "acme", caller="user"))
    await asyncio.sleep(0)  # let it queue behind the running batch
    backend.gate.set()
    await asyncio.gather(flood, ordinary)
    assert len(backend.log) >= 10
    assert backend.log.index("b") <= 2, backend.log


async def test_waiting_for_a_worker_is_busy_not_unavailable(tmp_path: Path) -> None:
    backend = GatedBackend()
    guard = make_guard(tmp_path, backend, queue_timeout_s=0.05, timeout_s=60)
    stuck = asyncio.create_task(guard.protect(["a"], POLICY, "acme", caller="first"))
    await backend.started.wait()
    with pytest.raises(GuardBusy) as refused:
        await guard.protect(["b"], POLICY, "acme", caller="second")
    assert not refused.value.caller_limit
    backend.gate.set()
    await stuck


async def test_work_time_is_limited_apart_from_waiting(tmp_path: Path) -> None:
    backend = GatedBackend()  # never opened: the batch never finishes
    guard = make_guard(tmp_path, backend, timeout_s=0.05, queue_timeout_s=60)
    with pytest.raises(GuardUnavailable):
        await guard.protect(["a"], POLICY, "acme")
    # The slot was given back: the next call gets the worker (and times out the same way).
    with pytest.raises(GuardUnavailable):
        await guard.protect(["a"], POLICY, "acme")


async def test_too_much_text_is_refused_with_the_limit(tmp_path: Path) -> None:
    backend = GatedBackend()
    guard = make_guard(tmp_path, backend, max_chars=10)
    with pytest.raises(GuardTooLarge) as refused:
        await guard.protect(["12345", "678901"], GuardPolicy(mode=Mode.MASK, fail_open=True), "acme")
    assert (refused.value.size, refused.value.limit) == (11, 10)
    assert backend.log == []


async def test_back_pressure_never_fails_open(tmp_path: Path) -> None:
    backend = GatedBackend()
    guard = make_guard(tmp_path, backend, per_caller=1)
    held = asyncio.create_task(guard.protect(["a"], POLICY, "acme", caller="x"))
    await backend.started.wait()
    with pytest.raises(GuardBusy):
        await guard.protect(["a"], GuardPolicy(mode=Mode.MASK, fail_open=True), "acme", caller="x")
    backend.gate.set()
    await held


async def test_a_cancelled_waiter_gives_its_turn_away(tmp_path: Path) -> None:
    backend = GatedBackend()
    guard = make_guard(tmp_path, backend)
    running = asyncio.create_task(guard.protect(["a"], POLICY, "acme", caller="one"))
    await backend.started.wait()
    waiting = asyncio.create_task(guard.protect(["b"], POLICY, "acme", caller="two"))
    await asyncio.sleep(0)
    waiting.cancel()
    backend.gate.set()
    await running
    assert (await guard.protect(["c"], POLICY, "acme", caller="three")).parts == ("c",)
    assert backend.log == ["a", "c"]


def test_settings_must_be_positive() -> None:
    with pytest.raises(Exception, match="max_chars"):
        GuardSettings(max_chars=0)


async def test_without_a_caller_only_the_overall_bound_applies(tmp_path: Path) -> None:
    """The pre-fairness call shape (no ``caller``) keeps working for many calls at once."""
    backend = GatedBackend()
    guard = make_guard(tmp_path, backend, per_caller=1, max_pending=5)
    held = [asyncio.create_task(guard.protect(["a"], POLICY, "acme")) for _ in range(5)]
    await backend.started.wait()
    with pytest.raises(GuardBusy):
        await guard.protect(["a"], POLICY, "acme")
    backend.gate.set()
    assert len(await asyncio.gather(*held)) == 5


async def test_a_flood_of_large_requests_does_not_fail_ordinary_callers(
    detector: Detector, key_dir: Path
) -> None:
    """The issue's scenario with the real detector: one caller floods big requests while
    another sends ordinary ones. The flooder is told to back off (GuardBusy); the other
    caller is served, never refused."""
    settings = GuardSettings(executor="thread", workers=1, per_caller=2)
    backend = ThreadBackend(settings.detector, 1, detector=detector)
    big = "Please review the quarterly numbers with the finance team before Friday. " * 400
    async with Guard(FileKeyProvider(key_dir), settings, backend=backend) as guard:
        flood = [guard.protect([big], POLICY, "acme", caller="flooder") for _ in range(6)]
        ordinary = [
            guard.protect([f"call Sarah Chen on 555-123-{i:04d}"], POLICY, "acme", caller="user")
            for i in range(2)
        ]
        results = await asyncio.gather(*flood, *ordinary, return_exceptions=True)
    flooded, served = results[:6], results[6:]
    assert sum(isinstance(r, GuardBusy) for r in flooded) == 4  # two may be inside at a time
    assert all(isinstance(r, GuardResult) for r in served), served
    assert all("<PERSON>" in r.parts[0] for r in served if isinstance(r, GuardResult))
