"""Budgets, on both backends: reserve-then-settle, refunds, windows, concurrency."""

from __future__ import annotations

import asyncio
import calendar
from contextlib import AsyncExitStack

import pytest

from gateway.errors import RateLimited
from gateway.settings import StateSettings
from gateway.state.counters import Windows, retry_after
from gateway.state.shared import SharedState, open_state
from tests.state.conftest import ALICE, BOB, profile, replicas

FINANCE = {"finance": profile("finance", budgets={"daily_usd": 1.0, "daily_tokens": 100_000})}


async def test_reserve_then_settle_counts_the_real_cost(state: SharedState) -> None:
    reservation = await state.quotas.admit(ALICE, FINANCE, usd=0.30, tokens=3000)
    assert (await state.usage.snapshot("acme", "alice"))["spend_today_usd"] == pytest.approx(0.30)
    await state.quotas.settle(reservation, 0.05, 500)
    await state.quotas.settle(reservation, 0.05, 500)  # once only
    assert await state.usage.snapshot("acme", "alice") == {
        "spend_today_usd": pytest.approx(0.05),
        "spend_month_usd": pytest.approx(0.05),
        "tokens_today": 500,
    }


async def test_a_refund_returns_the_whole_reservation(state: SharedState) -> None:
    reservation = await state.quotas.admit(ALICE, FINANCE, usd=0.30, tokens=3000)
    await state.quotas.settle(reservation, 0.0, 0)
    assert (await state.usage.snapshot("acme", "alice"))["spend_today_usd"] == 0


async def test_a_call_that_would_overspend_is_refused_with_retry_after(state: SharedState) -> None:
    await state.quotas.admit(ALICE, FINANCE, usd=0.90, tokens=10)
    with pytest.raises(RateLimited) as refused:
        await state.quotas.admit(ALICE, FINANCE, usd=0.20, tokens=10)
    assert refused.value.reason == "budget_exceeded" and refused.value.status == 429
    assert "daily budget of alice" in refused.value.message
    assert 0 < int(refused.value.headers["retry-after"]) <= 86400
    await state.quotas.admit(ALICE, FINANCE, usd=0.10, tokens=10)  # exactly up to the limit is fine


async def test_concurrent_reservations_never_overspend(state_settings: StateSettings) -> None:
    # Four gateways (four Redis clients, or one process), 200 calls racing for a $1 budget.
    async with AsyncExitStack() as stack:
        gateways = await replicas(state_settings, stack, 4)

        async def call(state: SharedState) -> bool:
            try:
                reservation = await state.quotas.admit(ALICE, FINANCE, usd=0.03, tokens=10)
            except RateLimited:
                return False
            await asyncio.sleep(0)
            await state.quotas.settle(reservation, 0.02, 5)
            return True

        results = await asyncio.gather(*(call(gateways[i % 4]) for i in range(200)))
        spent = (await gateways[0].usage.snapshot("acme", "alice"))["spend_today_usd"]
    assert spent <= 1.0
    assert sum(results) >= 33  # at least every call that fits at the reserved price


async def test_role_and_tenant_budgets_apply_to_everyone_in_them(state_settings: StateSettings) -> None:
    settings = StateSettings.model_validate(
        {**state_settings.model_dump(), "tenant_budgets": {"acme": {"daily_usd": 0.5}}}
    )
    async with AsyncExitStack() as stack:
        state = await open_state(settings, stack)
        await state.quotas.admit(ALICE, FINANCE, usd=0.4, tokens=1)
        with pytest.raises(RateLimited, match="daily budget of tenant acme"):
            await state.quotas.admit(BOB, FINANCE, usd=0.2, tokens=1)


async def test_monthly_and_token_limits(state: SharedState) -> None:
    tight = {"finance": profile("finance", budgets={"monthly_usd": 0.1, "daily_tokens": 50})}
    with pytest.raises(RateLimited, match="monthly budget"):
        await state.quotas.admit(ALICE, tight, usd=0.2, tokens=1)
    with pytest.raises(RateLimited, match="daily token budget"):
        await state.quotas.admit(ALICE, tight, usd=0.01, tokens=60)


@pytest.mark.redis
async def test_redis_down_fails_closed_by_default_and_open_on_request(redis_prefix: str) -> None:
    dead = "redis://127.0.0.1:1/0"
    async with AsyncExitStack() as stack:
        closed = await open_state(
            StateSettings(backend="redis", redis_url=dead, key_prefix=redis_prefix), stack
        )
        with pytest.raises(Exception) as failed:
            await closed.quotas.admit(ALICE, FINANCE, usd=0.1, tokens=1)
        assert getattr(failed.value, "reason", None) == "state_unavailable"
        opened = await open_state(
            StateSettings(backend="redis", redis_url=dead, key_prefix=redis_prefix, budgets_on_error="open"),
            stack,
        )
        reservation = await opened.quotas.admit(ALICE, FINANCE, usd=0.1, tokens=1)
        assert not reservation.open and opened.policy.failures["budgets"] == 1


@pytest.mark.redis
async def test_the_policy_input_never_fails_a_call_even_when_budgets_fail_closed(redis_prefix: str) -> None:
    settings = StateSettings(backend="redis", redis_url="redis://127.0.0.1:1/0", key_prefix=redis_prefix)
    async with AsyncExitStack() as stack:
        state = await open_state(settings, stack)
        # The policy still decides (a call it denies keeps its reason); admission refuses later.
        assert (await state.usage.snapshot("acme", "alice"))["spend_today_usd"] == 0
        assert state.policy.failures["usage_snapshot"] == 1


def test_windows_end_at_utc_boundaries() -> None:
    now = calendar.timegm((2026, 12, 31, 23, 59, 30))
    w = Windows.at(now)
    assert (w.day, w.month) == ("2026-12-31", "2026-12")
    assert w.minute_end == now + 30 and w.day_end == now + 30
    assert w.month_end == calendar.timegm((2027, 1, 1, 0, 0, 0))
    assert retry_after(w.minute_end, now) == 30
