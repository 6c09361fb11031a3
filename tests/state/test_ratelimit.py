"""Rate limits on Redis: requests and tokens per minute, per principal and role."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest

from gateway.errors import RateLimited, Unavailable
from gateway.settings import StateSettings
from gateway.state.shared import SharedState
from tests.state.conftest import ALICE, open_state, profile
from tests.support.tcpproxy import TcpProxy

pytestmark = pytest.mark.redis

LIMITED = {"finance": profile("finance", rate_limits={"requests_per_minute": 3, "tokens_per_minute": 1000})}


async def test_requests_per_minute(shared: SharedState) -> None:
    for _ in range(3):
        await shared.rate_limits.admit(ALICE, LIMITED, 10)
    with pytest.raises(RateLimited) as refused:
        await shared.rate_limits.admit(ALICE, LIMITED, 10)
    assert refused.value.status == 429 and refused.value.reason == "rate_limited"
    assert 1 <= int(refused.value.headers["retry-after"]) <= 60
    other = ALICE.__class__(sub="bob", roles=("finance",), tenant="acme")
    await shared.rate_limits.admit(other, LIMITED, 10)  # per principal


async def test_tokens_per_minute(shared: SharedState) -> None:
    await shared.rate_limits.admit(ALICE, LIMITED, 900)
    with pytest.raises(RateLimited, match="1000 tokens per minute"):
        await shared.rate_limits.admit(ALICE, LIMITED, 200)


async def test_no_limits_no_round_trip(shared: SharedState) -> None:
    assert shared.rate_limits.counters(ALICE, {"finance": profile("finance")}, 10) == []


@pytest.fixture
async def redis_proxy(redis_url: str) -> AsyncIterator[TcpProxy]:
    proxy = TcpProxy("127.0.0.1", 6379)
    await proxy.start()
    yield proxy
    await proxy.stop()


async def test_a_hung_redis_costs_at_most_the_socket_timeout(
    redis_proxy: TcpProxy, redis_prefix: str
) -> None:
    url = f"redis://127.0.0.1:{redis_proxy.port}/0"
    async with AsyncExitStack() as stack:
        opened = await open_state(
            StateSettings(
                backend="redis", redis_url=url, key_prefix=redis_prefix, socket_timeout_seconds=0.3
            ),
            stack,
        )
        closed = await open_state(
            StateSettings(
                backend="redis",
                redis_url=url,
                key_prefix=redis_prefix,
                socket_timeout_seconds=0.3,
                rate_limits_on_error="closed",
            ),
            stack,
        )
        redis_proxy.pause()
        started = time.monotonic()
        await opened.rate_limits.admit(ALICE, LIMITED, 10)  # fails open (the default): let through
        with pytest.raises(Unavailable):
            await closed.rate_limits.admit(ALICE, LIMITED, 10)
        assert time.monotonic() - started < 2.0
        assert opened.policy.failures["rate_limits"] == 1
        redis_proxy.resume()
