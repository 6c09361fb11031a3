"""Circuit breakers shared between replicas through the real Redis (gateway/state/breakers.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as redis

from gateway.state.breakers import BreakerSync
from gateway.upstream.breaker import Breakers
from tests.support.gateway import make_settings, running_gateway
from tests.support.services import unique_name

pytestmark = pytest.mark.redis


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[redis.Redis]:
    connection = redis.from_url(redis_url)
    yield connection
    await connection.aclose()


async def test_an_opening_reaches_the_other_replica_backdated(client: redis.Redis) -> None:
    prefix = unique_name("skeintest") + ":"
    wall, mono_a, mono_b = Clock(1_000_000.0), Clock(50.0), Clock(9_000.0)  # replicas' own clocks
    here = Breakers(["openai", "anthropic"], 2, 30.0, mono_a)
    there = Breakers(["openai", "anthropic"], 2, 30.0, mono_b)
    sync_here = BreakerSync(here, client, prefix, wall=wall)
    sync_there = BreakerSync(there, client, prefix, wall=wall)
    try:
        here.by_name["openai"].failed()
        here.by_name["openai"].failed()
        assert here.states()["openai"] == "open"
        await sync_here.once()
        ttl = await client.pttl(prefix + "breaker:openai")
        assert 29_000 < ttl <= 30_000  # expires with the cooldown

        wall.now += 10
        mono_b.now += 10
        await sync_there.once()
        assert there.states() == {"openai": "open", "anthropic": "closed"}
        assert 19.0 <= there.by_name["openai"].retry_after() <= 20.0  # opened 10 s ago, over there
        mono_b.now += 20
        assert there.states()["openai"] == "half_open"  # at the same moment as the replica that saw it

        # a value that is not a time is ignored, never trusted
        await client.set(prefix + "breaker:anthropic", b"open!", px=5000)
        await sync_there.once()
        assert there.states()["anthropic"] == "closed"
    finally:
        async for key in client.scan_iter(match=prefix + "*"):
            await client.delete(key)


async def test_the_gateway_starts_and_stops_its_breaker_sync(redis_url: str, tmp_path: Path) -> None:
    prefix = unique_name("skeintest") + ":"
    settings = make_settings(
        tmp_path / "state",
        guard={"enabled": False},
        state={"backend": "redis", "redis_url": redis_url, "key_prefix": prefix},
        providers={"openai": {"base_url": "http://127.0.0.1:9/v1", "api_key_env": None}},
        routing={"breaker_failures": 1},
    )
    async with running_gateway(settings) as gateway:
        ready = (await gateway.get("/readyz")).json()
        assert ready["routing"]["breakers"] == {"openai": "closed"}
