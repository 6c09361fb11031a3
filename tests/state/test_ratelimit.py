"""Rate limits, on both backends; and admission as one step: a refusal takes no quota."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest

from gateway.errors import RateLimited, Unavailable
from gateway.settings import StateSettings
from gateway.state.counters import Windows
from gateway.state.ratelimit import RateCounters
from gateway.state.shared import SharedState, open_state
from tests.state.conftest import ALICE, BOB, profile
from tests.support.tcpproxy import TcpProxy

LIMITED = {"finance": profile("finance", rate_limits={"requests_per_minute": 3, "tokens_per_minute": 1000})}


async def test_requests_per_minute(state: SharedState) -> None:
    for _ in range(3):
        await state.quotas.admit(ALICE, LIMITED, usd=0.0, tokens=10)
    with pytest.raises(RateLimited) as refused:
        await state.quotas.admit(ALICE, LIMITED, usd=0.0, tokens=10)
    assert refused.value.status == 429 and refused.value.reason == "rate_limited"
    assert 1 <= int(refused.value.headers["retry-after"]) <= 60
    await state.quotas.admit(BOB, LIMITED, usd=0.0, tokens=10)  # per principal


async def test_tokens_per_minute(state: SharedState) -> None:
    await state.quotas.admit(ALICE, LIMITED, usd=0.0, tokens=900)
    with pytest.raises(RateLimited, match="1000 tokens per minute"):
        await state.quotas.admit(ALICE, LIMITED, usd=0.0, tokens=200)


async def rate_count(state: SharedState, settings: StateSettings) -> int:
    key = RateCounters(settings).key(ALICE, "finance", Windows.at(), "req")
    [count] = await state.quotas._counters.read([key])
    return count


async def test_calls_refused_by_the_budget_take_no_rate_limit_quota(
    state: SharedState, state_settings: StateSettings
) -> None:
    # Room for 10 calls in the budget, 100 in the rate limit; 40 calls come.
    both = {
        "finance": profile("finance", budgets={"daily_usd": 1.0}, rate_limits={"requests_per_minute": 100})
    }
    served = refused = 0
    for _ in range(40):
        try:
            await state.quotas.admit(ALICE, both, usd=0.1, tokens=10)
            served += 1
        except RateLimited as exc:
            assert exc.reason == "budget_exceeded"
            refused += 1
    assert (served, refused) == (10, 30)
    assert await rate_count(state, state_settings) == 10  # was 40: every refused call counted


async def test_calls_refused_by_the_rate_limit_reserve_no_budget(state: SharedState) -> None:
    both = {
        "finance": profile("finance", budgets={"daily_usd": 10.0}, rate_limits={"requests_per_minute": 5})
    }
    for _ in range(5):
        await state.quotas.admit(ALICE, both, usd=0.1, tokens=10)
    for _ in range(5):
        with pytest.raises(RateLimited, match="requests per minute"):
            await state.quotas.admit(ALICE, both, usd=0.1, tokens=10)
    spent = (await state.usage.snapshot("acme", "alice"))["spend_today_usd"]
    assert spent == pytest.approx(0.5)  # 5 served calls' reservations, nothing for the refused


async def test_no_limits_no_rate_counters() -> None:
    counters = RateCounters(StateSettings()).counters(
        ALICE, {"finance": profile("finance")}, 10, Windows.at()
    )
    assert counters == []


@pytest.fixture
async def redis_proxy(redis_url: str) -> AsyncIterator[TcpProxy]:
    proxy = TcpProxy("127.0.0.1", 6379)
    await proxy.start()
    yield proxy
    await proxy.stop()


@pytest.mark.redis
async def test_a_hung_redis_costs_at_most_the_socket_timeout(
    redis_proxy: TcpProxy, redis_prefix: str
) -> None:
    url = f"redis://127.0.0.1:{redis_proxy.port}/0"
    common = {"backend": "redis", "redis_url": url, "key_prefix": redis_prefix, "socket_timeout_seconds": 0.3}
    async with AsyncExitStack() as stack:
        opened = await open_state(StateSettings(**common, budgets_on_error="open"), stack)
        closed = await open_state(
            StateSettings(**common, rate_limits_on_error="closed", budgets_on_error="open"), stack
        )
        redis_proxy.pause()
        started = time.monotonic()
        await opened.quotas.admit(ALICE, LIMITED, usd=0.0, tokens=10)  # fails open: let through
        with pytest.raises(Unavailable, match="rate limits"):
            await closed.quotas.admit(ALICE, LIMITED, usd=0.0, tokens=10)
        assert time.monotonic() - started < 2.0
        assert opened.policy.failures["rate_limits"] == 1 and opened.policy.failures["budgets"] == 1
        redis_proxy.resume()
