"""The Redis client heals itself, its scripts are safe to retry, and outages are loud."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest

from gateway.errors import GatewayError
from gateway.settings import StateSettings
from gateway.state.counters import Counter, RedisCounters
from gateway.state.idempotency import Claim
from gateway.state.redis_client import new_client
from gateway.state.shared import SharedState, open_state
from tests.state.conftest import ALICE, profile
from tests.support.tcpproxy import TcpProxy

pytestmark = pytest.mark.redis

LIMITED = {
    "finance": profile("finance", budgets={"daily_usd": 100.0}, rate_limits={"requests_per_minute": 10_000})
}


@pytest.fixture
async def redis_proxy(redis_url: str) -> AsyncIterator[TcpProxy]:
    proxy = TcpProxy("127.0.0.1", 6379)
    await proxy.start()
    yield proxy
    await proxy.stop()


async def calls(state: SharedState, count: int, round: str = "") -> list[BaseException | None]:
    """``count`` concurrent admissions (and an idempotency claim each); the errors they met."""

    async def one(i: int) -> None:
        await state.quotas.admit(ALICE, LIMITED, usd=0.001, tokens=10)
        key = state.idempotency.key("acme", "alice", "/r", f"{round}-{i}")
        claim = await state.idempotency.begin(key, b"x")
        assert isinstance(claim, Claim)

    results = await asyncio.gather(*(one(i) for i in range(count)), return_exceptions=True)
    return [r for r in results if isinstance(r, BaseException)]


async def test_after_a_redis_blip_no_call_fails(
    redis_proxy: TcpProxy, redis_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = StateSettings(
        backend="redis",
        redis_url=f"redis://127.0.0.1:{redis_proxy.port}/0",
        key_prefix=redis_prefix,
        max_connections=16,
        socket_timeout_seconds=5.0,  # a loaded box may make a call wait long for a connection
    )
    async with AsyncExitStack() as stack:
        state = await open_state(settings, stack)
        assert await calls(state, 64) == []  # the pool now holds 16 open connections
        with caplog.at_level(logging.WARNING, logger="skein.state"):
            await redis_proxy.stop()  # every pooled connection is reset: a restart, a network blip
            await redis_proxy.start()  # Redis is back at once
            errors = await calls(state, 64, "after")
        assert errors == []  # each stale connection was retried once, fresh: zero 503s
        assert state.policy.up and not state.policy.problems()


async def test_an_outage_is_loud_and_its_end_is_seen_by_readiness_checks(
    redis_proxy: TcpProxy, redis_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = StateSettings(
        backend="redis", redis_url=f"redis://127.0.0.1:{redis_proxy.port}/0", key_prefix=redis_prefix
    )
    async with AsyncExitStack() as stack:
        state = await open_state(settings, stack)
        await redis_proxy.stop()
        with caplog.at_level(logging.WARNING, logger="skein.state"):
            errors = await calls(state, 5)
            assert errors and all(
                isinstance(e, GatewayError) and e.reason == "state_unavailable" for e in errors
            )
            assert "shared state (Redis) failing" in caplog.text  # a warning at the first failure
            assert caplog.text.count("shared state (Redis) failing") == 1  # not one per call
            assert not state.policy.up
            [problem] = state.policy.problems()
            assert "budgets refused (503)" in problem and "rate limits not enforced" in problem
            await state.policy.check()  # still down
            assert not state.policy.up
            await redis_proxy.start()
            await state.policy.check()  # a readiness probe pings: recovery without traffic
            assert state.policy.up
            assert "reachable again" in caplog.text


async def test_scripts_applied_twice_count_once(redis_url: str, redis_prefix: str) -> None:
    client = new_client(StateSettings(redis_url=redis_url))
    try:
        counters = RedisCounters(client, redis_prefix)
        key = redis_prefix + "c"
        op = [key, redis_prefix + "op:same"]
        for _ in range(2):  # as when a reply is lost and the client runs the script again
            await counters._script(keys=op, args=["reserve", 5, 7, 2_000_000_000])
        assert await counters.read([key]) == [5]
        refusal = await counters.apply([Counter(key, 5, 7, 2_000_000_000)], "reserve")
        assert refusal is not None and refusal.current == 5
    finally:
        await client.aclose()
