"""The async facade: off the event loop, timeouts, fail closed / open, the process pool."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from guard import FileKeyProvider, Guard, GuardConfigError, GuardPolicy, GuardSettings, GuardUnavailable, Mode
from guard.detector import DetectorSettings
from guard.policy import Detection
from guard.pool import ProcessBackend
from guard.pseudonyms import HmacSigner


class SlowBackend:
    workers = 1

    def __init__(self, delay: float = 0.0, error: Exception | None = None) -> None:
        self.delay, self.error = delay, error

    async def start(self) -> None: ...

    async def aclose(self) -> None: ...

    async def detect(
        self, texts: Sequence[str], policy: GuardPolicy, timeout_s: float
    ) -> list[list[Detection]]:
        await asyncio.sleep(self.delay)
        if self.error:
            raise self.error
        return [[] for _ in texts]


class BrokenKeys:
    remote = False

    def signer(self, tenant: str) -> HmacSigner:
        raise OSError("disk gone")


async def test_timeout_fails_closed(tmp_path: Path) -> None:
    guard = Guard(FileKeyProvider(tmp_path), GuardSettings(timeout_s=0.05), backend=SlowBackend(delay=1))
    with pytest.raises(GuardUnavailable):
        await guard.protect(["hello"], GuardPolicy(mode=Mode.MASK), "acme")


async def test_error_fails_closed_and_open(tmp_path: Path) -> None:
    guard = Guard(FileKeyProvider(tmp_path), backend=SlowBackend(error=RuntimeError("boom")))
    with pytest.raises(GuardUnavailable):
        await guard.protect(["hello"], GuardPolicy(mode=Mode.MASK), "acme")
    result = await guard.protect(["hello"], GuardPolicy(mode=Mode.MASK, fail_open=True), "acme")
    assert result.degraded and result.parts == ("hello",)


async def test_key_failure_fails_closed() -> None:
    guard = Guard(BrokenKeys(), backend=SlowBackend())
    with pytest.raises(GuardUnavailable):
        await guard.protect(["hello"], GuardPolicy(mode=Mode.PSEUDONYMIZE), "acme")


async def test_policy_timeout_overrides_settings(tmp_path: Path) -> None:
    guard = Guard(FileKeyProvider(tmp_path), GuardSettings(timeout_s=5), backend=SlowBackend(delay=1))
    with pytest.raises(GuardUnavailable):
        await guard.protect(["x"], GuardPolicy(mode=Mode.MASK, timeout_s=0.05), "acme")


async def test_analysis_does_not_block_the_loop(guard: Guard) -> None:
    text = "Please ask Sarah Chen in Berlin about invoice 42. " * 300  # ~2,700 words
    ticks: list[float] = []

    async def ticker() -> None:
        while True:
            ticks.append(time.perf_counter())
            await asyncio.sleep(0.005)

    task = asyncio.create_task(ticker())
    started = time.perf_counter()
    await guard.protect([text], GuardPolicy(mode=Mode.MASK), "acme")
    elapsed = time.perf_counter() - started
    task.cancel()
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    # Run on the loop, the analysis would be one gap as long as the whole call.
    assert len(ticks) > 5 and max(gaps) < elapsed / 2


async def test_process_pool_end_to_end(tmp_path: Path) -> None:
    backend = ProcessBackend(DetectorSettings(), workers=1)
    settings = GuardSettings(timeout_s=20)
    async with Guard(FileKeyProvider(tmp_path), settings, backend=backend) as guard:
        result = await guard.protect(["ask sarah at sarah@acme.com"], GuardPolicy(mode=Mode.MASK), "acme")
        assert result.parts == ("ask <PERSON> at <EMAIL_ADDRESS>",)
        # A timed-out worker is killed and replaced; the guard keeps serving afterwards.
        long_text = "Sarah met John in Paris. " * 4000
        with pytest.raises(GuardUnavailable):
            await guard.protect([long_text], GuardPolicy(mode=Mode.MASK, timeout_s=0.01), "acme")
        for _ in range(200):
            if backend._idle.qsize():
                break
            await asyncio.sleep(0.1)
        again = await guard.protect(["call 555-123-4567"], GuardPolicy(mode=Mode.MASK), "acme")
        assert again.parts == ("call <PHONE_NUMBER>",)


async def test_bad_tenant_is_a_config_error_even_when_failing_open(guard: Guard) -> None:
    policy = GuardPolicy(mode=Mode.PSEUDONYMIZE, fail_open=True)
    with pytest.raises(GuardConfigError):
        await guard.protect(["mail ann@acme.com"], policy, "../etc")
