"""Idempotency-Key on Redis: claim, replay, in-flight conflict, body mismatch, release."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

import pytest

from gateway.errors import IdempotencyInFlight, IdempotencyKeyReused
from gateway.settings import StateSettings
from gateway.state.idempotency import Claim, StoredResponse
from gateway.state.shared import SharedState
from tests.state.conftest import open_state

pytestmark = pytest.mark.redis

OK = StoredResponse(200, {"content-type": "application/json"}, b'{"id":"chatcmpl-1"}')


def key(shared: SharedState, sub: str = "alice", idem: str = "k-1") -> str:
    return shared.idempotency.key("acme", sub, "/v1/chat/completions", idem)


async def test_first_call_claims_then_later_duplicates_replay(shared: SharedState) -> None:
    claim = await shared.idempotency.begin(key(shared), b"body")
    assert isinstance(claim, Claim)
    await shared.idempotency.complete(claim, OK)
    assert await shared.idempotency.begin(key(shared), b"body") == OK


async def test_a_concurrent_duplicate_gets_409(state_settings: StateSettings) -> None:
    async with AsyncExitStack() as stack:
        replicas = [await open_state(state_settings, stack) for _ in range(2)]
        outcomes = await asyncio.gather(
            *(r.idempotency.begin(key(r), b"body") for r in replicas), return_exceptions=True
        )
    assert sum(isinstance(o, Claim) for o in outcomes) == 1
    assert sum(isinstance(o, IdempotencyInFlight) for o in outcomes) == 1
    conflict = next(o for o in outcomes if isinstance(o, IdempotencyInFlight))
    assert conflict.status == 409


async def test_same_key_other_body_is_422(shared: SharedState) -> None:
    await shared.idempotency.begin(key(shared), b"body")
    with pytest.raises(IdempotencyKeyReused) as reused:
        await shared.idempotency.begin(key(shared), b"other body")
    assert reused.value.status == 422


async def test_keys_are_scoped_by_principal_and_route(shared: SharedState) -> None:
    assert isinstance(await shared.idempotency.begin(key(shared), b"body"), Claim)
    assert isinstance(await shared.idempotency.begin(key(shared, sub="bob"), b"body"), Claim)
    other_route = shared.idempotency.key("acme", "alice", "/v1/embeddings", "k-1")
    assert isinstance(await shared.idempotency.begin(other_route, b"body"), Claim)


async def test_release_lets_a_retry_run_and_only_the_owner_finishes(shared: SharedState) -> None:
    claim = await shared.idempotency.begin(key(shared), b"body")
    assert isinstance(claim, Claim)
    await shared.idempotency.release(claim)
    again = await shared.idempotency.begin(key(shared), b"body")
    assert isinstance(again, Claim)
    await shared.idempotency.complete(claim, OK)  # the stale first claim cannot store
    with pytest.raises(IdempotencyInFlight):
        await shared.idempotency.begin(key(shared), b"body")


async def test_redis_down_fails_closed(redis_prefix: str) -> None:
    settings = StateSettings(backend="redis", redis_url="redis://127.0.0.1:1/0", key_prefix=redis_prefix)
    async with AsyncExitStack() as stack:
        state = await open_state(settings, stack)
        with pytest.raises(Exception) as failed:
            await state.idempotency.begin(key(state), b"body")
    assert getattr(failed.value, "reason", None) == "state_unavailable"
