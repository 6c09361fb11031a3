"""Idempotency-Key, on both backends: claim, replay, in-flight conflict, body mismatch, release."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

import pytest

from gateway.errors import IdempotencyInFlight, IdempotencyKeyReused
from gateway.settings import StateSettings
from gateway.state.idempotency import Claim, StoredResponse
from gateway.state.shared import SharedState, open_state
from tests.state.conftest import replicas

OK = StoredResponse(200, {"content-type": "application/json"}, b'{"id":"chatcmpl-1"}', request_id="req-1")


def key(state: SharedState, sub: str = "alice", idem: str = "k-1") -> str:
    return state.idempotency.key("acme", sub, "/v1/chat/completions", idem)


async def test_first_call_claims_then_later_duplicates_replay(state: SharedState) -> None:
    claim = await state.idempotency.begin(key(state), b"body")
    assert isinstance(claim, Claim)
    await state.idempotency.complete(claim, OK)
    replay = await state.idempotency.begin(key(state), b"body")
    assert replay == OK
    assert isinstance(replay, StoredResponse) and replay.request_id == "req-1"  # the original call


async def test_a_concurrent_duplicate_gets_409(state_settings: StateSettings) -> None:
    async with AsyncExitStack() as stack:
        gateways = await replicas(state_settings, stack, 2)
        outcomes = await asyncio.gather(
            *(g.idempotency.begin(key(g), b"body") for g in gateways), return_exceptions=True
        )
    assert sum(isinstance(o, Claim) for o in outcomes) == 1
    assert sum(isinstance(o, IdempotencyInFlight) for o in outcomes) == 1
    conflict = next(o for o in outcomes if isinstance(o, IdempotencyInFlight))
    assert conflict.status == 409 and conflict.headers["retry-after"] == "1"


async def test_same_key_other_body_is_422(state: SharedState) -> None:
    await state.idempotency.begin(key(state), b"body")
    with pytest.raises(IdempotencyKeyReused) as reused:
        await state.idempotency.begin(key(state), b"other body")
    assert reused.value.status == 422


async def test_keys_are_scoped_by_principal_and_route(state: SharedState) -> None:
    assert isinstance(await state.idempotency.begin(key(state), b"body"), Claim)
    assert isinstance(await state.idempotency.begin(key(state, sub="bob"), b"body"), Claim)
    other_route = state.idempotency.key("acme", "alice", "/v1/embeddings", "k-1")
    assert isinstance(await state.idempotency.begin(other_route, b"body"), Claim)


async def test_release_lets_a_retry_run_and_only_the_owner_finishes(state: SharedState) -> None:
    claim = await state.idempotency.begin(key(state), b"body")
    assert isinstance(claim, Claim)
    await state.idempotency.release(claim)
    again = await state.idempotency.begin(key(state), b"body")
    assert isinstance(again, Claim)
    await state.idempotency.complete(claim, OK)  # the stale first claim cannot store
    with pytest.raises(IdempotencyInFlight):
        await state.idempotency.begin(key(state), b"body")


@pytest.mark.redis
async def test_redis_down_fails_closed(redis_prefix: str) -> None:
    settings = StateSettings(backend="redis", redis_url="redis://127.0.0.1:1/0", key_prefix=redis_prefix)
    async with AsyncExitStack() as stack:
        state = await open_state(settings, stack)
        with pytest.raises(Exception) as failed:
            await state.idempotency.begin(key(state), b"body")
    assert getattr(failed.value, "reason", None) == "state_unavailable"
