"""State for tests, on both backends: every test that takes ``state_settings`` (or ``state``)
runs once in memory and once on the real Redis with this test's key prefix."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import pytest
import redis.asyncio as redis

from gateway.domain import Principal
from gateway.settings import StateSettings
from gateway.state.shared import SharedState, open_state
from signing.schema import RoleProfile
from tests.support.services import unique_name


def profile(role: str, **limits: Any) -> RoleProfile:
    return RoleProfile.model_validate(
        {"role": role, "display_name": role, "models": {"allowed": ["*"]}, **limits}
    )


ALICE = Principal(sub="alice", roles=("finance",), tenant="acme")
BOB = Principal(sub="bob", roles=("finance",), tenant="acme")


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def state_settings(backend: str, request: pytest.FixtureRequest) -> AsyncIterator[StateSettings]:
    if backend == "memory":
        yield StateSettings(backend="memory", key_prefix="test:")
        return
    url: str = request.getfixturevalue("redis_url")  # skips (or fails in CI) without Redis
    prefix = unique_name("skeintest") + ":"
    # A generous timeout: on a loaded CI box 200 racing calls may wait long for a connection.
    yield StateSettings(
        backend="redis",
        redis_url=url,
        key_prefix=prefix,
        socket_timeout_seconds=5.0,
        connect_timeout_seconds=5.0,
    )
    client = redis.from_url(url)
    try:
        async for key in client.scan_iter(match=prefix + "*", count=1000):
            await client.delete(key)
    finally:
        await client.aclose()


@pytest.fixture
async def state(state_settings: StateSettings) -> AsyncIterator[SharedState]:
    async with AsyncExitStack() as stack:
        yield await open_state(state_settings, stack)


async def replicas(settings: StateSettings, stack: AsyncExitStack, count: int) -> list[SharedState]:
    """``count`` gateways' views of the state: separate Redis clients, or one process's memory."""
    if settings.backend == "memory":
        return [await open_state(settings, stack)] * count
    return [await open_state(settings, stack) for _ in range(count)]
