"""Budgets on Redis: reserve-then-settle, refunds, windows, concurrency across clients."""

from __future__ import annotations

import asyncio
import calendar
from contextlib import AsyncExitStack

import pytest

from gateway.errors import RateLimited
from gateway.settings import ScopeBudget, StateSettings
from gateway.state.counters import Windows, retry_after
from gateway.state.shared import SharedState
from tests.state.conftest import ALICE, open_state, profile

pytestmark = pytest.mark.redis

FINANCE = {"finance": profile("finance", budgets={"daily_usd": 1.0, "daily_tokens": 100_000})}


async def test_reserve_then_settle_counts_the_real_cost(shared: SharedState) -> None:
    reservation = await shared.budgets.reserve(ALICE, FINANCE, 0.30, 3000)
    assert (await shared.usage.snapshot("acme", "alice"))["spend_today_usd"] == pytest.approx(0.30)
    await shared.budgets.settle(reservation, 0.05, 500)
    await shared.budgets.settle(reservation, 0.05, 500)  # once only
    usage = await shared.usage.snapshot("acme", "alice")
    assert usage == {
        "spend_today_usd": pytest.approx(0.05),
        "spend_month_usd": pytest.approx(0.05),
        "tokens_today": 500,
    }


async def test_a_refund_returns_the_whole_reservation(shared: SharedState) -> None:
    reservation = await shared.budgets.reserve(ALICE, FINANCE, 0.30, 3000)
    await shared.budgets.settle(reservation, 0.0, 0)
    assert (await shared.usage.snapshot("acme", "alice"))["spend_today_usd"] == 0


async def test_a_call_that_would_overspend_is_refused_with_retry_after(shared: SharedState) -> None:
    await shared.budgets.reserve(ALICE, FINANCE, 0.90, 10)
    with pytest.raises(RateLimited) as refused:
        await shared.budgets.reserve(ALICE, FINANCE, 0.20, 10)
    assert refused.value.reason == "budget_exceeded"
    assert "daily budget of alice" in refused.value.message
    assert 0 < int(refused.value.headers["retry-after"]) <= 86400
    await shared.budgets.reserve(ALICE, FINANCE, 0.10, 10)  # exactly up to the limit is fine


async def test_concurrent_reservations_never_overspend(state_settings: StateSettings) -> None:
    # Four independent clients (as four replicas), 200 calls racing for a $1 budget.
    async with AsyncExitStack() as stack:
        replicas = [await open_state(state_settings, stack) for _ in range(4)]

        async def call(state: SharedState) -> bool:
            try:
                reservation = await state.budgets.reserve(ALICE, FINANCE, 0.03, 10)
            except RateLimited:
                return False
            await asyncio.sleep(0)
            await state.budgets.settle(reservation, 0.02, 5)
            return True

        results = await asyncio.gather(*(call(replicas[i % 4]) for i in range(200)))
        spent = (await replicas[0].usage.snapshot("acme", "alice"))["spend_today_usd"]
    assert spent <= 1.0
    assert sum(results) >= 33  # at least every call that fits at the reserved price


async def test_role_and_tenant_budgets_apply_to_everyone_in_them(redis_url: str, redis_prefix: str) -> None:
    settings = StateSettings(
        backend="redis",
        redis_url=redis_url,
        key_prefix=redis_prefix,
        tenant_budgets={"acme": ScopeBudget(daily_usd=0.5)},
    )
    async with AsyncExitStack() as stack:
        state = await open_state(settings, stack)
        await state.budgets.reserve(ALICE, FINANCE, 0.4, 1)
        bob = ALICE.__class__(sub="bob", roles=("finance",), tenant="acme")
        with pytest.raises(RateLimited, match="daily budget of tenant acme"):
            await state.budgets.reserve(bob, FINANCE, 0.2, 1)


async def test_monthly_and_token_limits(shared: SharedState) -> None:
    tight = {"finance": profile("finance", budgets={"monthly_usd": 0.1, "daily_tokens": 50})}
    with pytest.raises(RateLimited, match="monthly budget"):
        await shared.budgets.reserve(ALICE, tight, 0.2, 1)
    with pytest.raises(RateLimited, match="daily token budget"):
        await shared.budgets.reserve(ALICE, tight, 0.01, 60)


async def test_redis_down_fails_closed_by_default_and_open_on_request(redis_prefix: str) -> None:
    dead = "redis://127.0.0.1:1/0"
    async with AsyncExitStack() as stack:
        closed = await open_state(
            StateSettings(backend="redis", redis_url=dead, key_prefix=redis_prefix), stack
        )
        with pytest.raises(Exception) as failed:
            await closed.budgets.reserve(ALICE, FINANCE, 0.1, 1)
        assert getattr(failed.value, "reason", None) == "state_unavailable"
        opened = await open_state(
            StateSettings(backend="redis", redis_url=dead, key_prefix=redis_prefix, budgets_on_error="open"),
            stack,
        )
        reservation = await opened.budgets.reserve(ALICE, FINANCE, 0.1, 1)
        assert not reservation.open and opened.policy.failures["budgets"] == 1


def test_windows_end_at_utc_boundaries() -> None:
    now = calendar.timegm((2026, 12, 31, 23, 59, 30))
    w = Windows.at(now)
    assert (w.day, w.month) == ("2026-12-31", "2026-12")
    assert w.minute_end == now + 30 and w.day_end == now + 30
    assert w.month_end == calendar.timegm((2027, 1, 1, 0, 0, 0))
    assert retry_after(w.minute_end, now) == 30
