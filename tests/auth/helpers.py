"""Small helpers shared by the identity tests."""

from __future__ import annotations

from collections.abc import Awaitable

import pytest

from gateway.errors import GatewayError


class FakeClock:
    """A clock the test moves by hand (for TTLs and rate limits)."""

    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


async def reason_of(awaitable: Awaitable[object]) -> str:
    """The reason code of the GatewayError an awaitable raises (fails the test if none)."""
    with pytest.raises(GatewayError) as caught:
        await awaitable
    return caught.value.reason
