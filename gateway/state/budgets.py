"""Budgets shared by every replica: reserve the worst case before a call, settle after.

Before forwarding, ``reserve`` adds the call's upper bound (input estimate plus
``max_tokens``, priced at the served model's rates) to every spend counter of the call, but
only if each stays within its limit; after the call ``settle`` replaces the reservation by
the real cost from the upstream's usage, or refunds it entirely when the call failed or the
client went away. Concurrent calls on any replica therefore see each other's reservations
and cannot overspend together (``gateway/state/counters.py`` has the atomic script).

Counters per call, in one script: the principal (daily and monthly USD, daily tokens;
limits from the role profiles, the strictest of the caller's roles), each of its roles and
its tenant (daily and monthly USD; limits from ``state.role_budgets`` /
``state.tenant_budgets``). Without a limit a counter still counts, so spend shows in the
policy input (``RedisUsageStore.snapshot``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import redis.asyncio as redis

from gateway.domain import Principal
from gateway.errors import RateLimited
from gateway.settings import ScopeBudget, StateSettings
from gateway.state.counters import MICRO, Counter, CounterScript, Windows, retry_after
from gateway.state.redis_client import STATE_ERRORS, FailurePolicy
from signing.schema import RoleProfile


@dataclass(slots=True)
class Reservation:
    usd: tuple[Counter, ...] = ()  # reserved micro-dollars in each
    tokens: tuple[Counter, ...] = ()
    reserved_micro: int = 0
    reserved_tokens: int = 0
    open: bool = False  # still to settle (False: settled, or never reserved)


def principal_name(tenant: str, sub: str) -> str:
    # Length-prefixed: no tenant/sub pair can collide with another in the key.
    return f"{len(tenant)}:{tenant}:{sub}"


def strictest(values: Iterable[float | int | None]) -> float | None:
    limits = [v for v in values if v is not None]
    return min(limits) if limits else None


def micro(usd: float | None) -> int | None:
    return None if usd is None else round(usd * MICRO)


class RedisBudgets:
    def __init__(
        self, client: redis.Redis, settings: StateSettings, policy: FailurePolicy, script: CounterScript
    ) -> None:
        self._client = client
        self._prefix = settings.key_prefix + "spend:"
        self._roles, self._tenants = settings.role_budgets, settings.tenant_budgets
        self._policy = policy
        self._script = script

    def key(self, scope: str, name: str, window: str, unit: str) -> str:
        return f"{self._prefix}{scope}:{name}:{window}:{unit}"

    async def reserve(
        self, principal: Principal, profiles: Mapping[str, RoleProfile], usd: float, tokens: int
    ) -> Reservation:
        """Reserve ``usd`` and ``tokens``, or raise ``RateLimited`` (``budget_exceeded``)."""
        w = Windows.at()
        amount = int(usd * MICRO + 0.999)  # round up: a reservation never under-counts
        usd_counters = self._usd_counters(principal, profiles, amount, w)
        token_counters = self._token_counters(principal, profiles, tokens, w)
        try:
            refusal = await self._script.apply(usd_counters + token_counters, "reserve")
        except STATE_ERRORS as exc:
            self._policy.failed("budgets", exc)
            return Reservation()
        if refusal is not None:
            c = refusal.counter
            raise RateLimited(
                f"{c.label} would be exceeded by this call",
                reason="budget_exceeded",
                headers={"retry-after": str(retry_after(c.expires_at))},
            )
        return Reservation(tuple(usd_counters), tuple(token_counters), amount, tokens, open=True)

    async def settle(self, reservation: Reservation, usd: float, tokens: int) -> None:
        """Replace the reservation by the real cost (zero for a refund); once only."""
        if not reservation.open:
            return
        reservation.open = False
        spent = round(usd * MICRO)
        fix = [_delta(c, spent - reservation.reserved_micro) for c in reservation.usd]
        fix += [_delta(c, tokens - reservation.reserved_tokens) for c in reservation.tokens]
        try:
            await self._script.apply(fix, "settle")
        except STATE_ERRORS as exc:
            # The call is over; a lost correction over-counts (the safe side) until the window ends.
            self._policy.lost_settle(exc)

    def _usd_counters(
        self, principal: Principal, profiles: Mapping[str, RoleProfile], amount: int, w: Windows
    ) -> list[Counter]:
        mine = [profiles[r].budgets for r in principal.roles if r in profiles]
        who = principal_name(principal.tenant, principal.sub)
        counters = [
            Counter(
                self.key("p", who, w.day, "usd"),
                amount,
                micro(strictest(b.daily_usd for b in mine)),
                w.day_end,
                f"daily budget of {principal.sub}",
            ),
            Counter(
                self.key("p", who, w.month, "usd"),
                amount,
                micro(strictest(b.monthly_usd for b in mine)),
                w.month_end,
                f"monthly budget of {principal.sub}",
            ),
        ]
        for role in principal.roles:
            counters += self._scope_counters("r", role, self._roles.get(role), amount, w, f"role {role}")
        tenant = principal.tenant
        counters += self._scope_counters(
            "t", tenant, self._tenants.get(tenant), amount, w, f"tenant {tenant}"
        )
        return counters

    def _scope_counters(
        self, scope: str, name: str, budget: ScopeBudget | None, amount: int, w: Windows, label: str
    ) -> list[Counter]:
        daily, monthly = (budget.daily_usd, budget.monthly_usd) if budget else (None, None)
        return [
            Counter(
                self.key(scope, name, w.day, "usd"),
                amount,
                micro(daily),
                w.day_end,
                f"daily budget of {label}",
            ),
            Counter(
                self.key(scope, name, w.month, "usd"),
                amount,
                micro(monthly),
                w.month_end,
                f"monthly budget of {label}",
            ),
        ]

    def _token_counters(
        self, principal: Principal, profiles: Mapping[str, RoleProfile], tokens: int, w: Windows
    ) -> list[Counter]:
        limit = strictest(profiles[r].budgets.daily_tokens for r in principal.roles if r in profiles)
        key = self.key("p", principal_name(principal.tenant, principal.sub), w.day, "tok")
        label = f"daily token budget of {principal.sub}"
        return [Counter(key, tokens, None if limit is None else int(limit), w.day_end, label)]


def _delta(counter: Counter, amount: int) -> Counter:
    return Counter(counter.key, amount, None, counter.expires_at, counter.label)


class RedisUsageStore:
    """The ``UsageStore`` for several replicas: reads the counters ``RedisBudgets`` moves.

    ``record`` does nothing: spend is counted by reserve-then-settle (``Gateway.settle_budget``),
    which a second count here would double.
    """

    def __init__(self, budgets: RedisBudgets, client: redis.Redis, policy: FailurePolicy) -> None:
        self._budgets, self._client, self._policy = budgets, client, policy

    async def snapshot(self, tenant: str, sub: str) -> dict[str, float]:
        w, who, key = Windows.at(), principal_name(tenant, sub), self._budgets.key
        keys = [key("p", who, w.day, "usd"), key("p", who, w.month, "usd"), key("p", who, w.day, "tok")]
        try:
            day, month, tokens = await self._client.mget(keys)
        except STATE_ERRORS as exc:
            self._policy.failed("budgets", exc)
            day = month = tokens = None
        return {
            "spend_today_usd": int(day or 0) / MICRO,
            "spend_month_usd": int(month or 0) / MICRO,
            "tokens_today": int(tokens or 0),
        }

    async def record(self, tenant: str, sub: str, cost_usd: float, tokens: int) -> None:
        return None
