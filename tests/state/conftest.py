"""Redis-backed state for tests: settings with this test's key prefix, profiles with limits."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import pytest

from gateway.domain import Principal
from gateway.settings import StateSettings
from gateway.state.shared import SharedState, open_shared_state
from signing.schema import RoleProfile


def profile(role: str, **limits: Any) -> RoleProfile:
    return RoleProfile.model_validate(
        {"role": role, "display_name": role, "models": {"allowed": ["*"]}, **limits}
    )


ALICE = Principal(sub="alice", roles=("finance",), tenant="acme")


@pytest.fixture
def state_settings(redis_url: str, redis_prefix: str) -> StateSettings:
    return StateSettings(backend="redis", redis_url=redis_url, key_prefix=redis_prefix)


@pytest.fixture
async def shared(state_settings: StateSettings) -> AsyncIterator[SharedState]:
    async with AsyncExitStack() as stack:
        state = await open_shared_state(state_settings, stack)
        assert state is not None
        yield state


async def open_state(settings: StateSettings, stack: AsyncExitStack) -> SharedState:
    state = await open_shared_state(settings, stack)
    assert state is not None
    return state
