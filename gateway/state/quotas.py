"""Admission: rate limits and budgets in one all-or-nothing step, then settle to the real cost.

``admit`` builds every counter a call touches (its budgets first, then its rate limits) and
applies them together (``counters.py``): either all have room and all are moved, or the call
is refused by the first that has none and *nothing* is taken. A call refused for its budget
therefore does not use up rate-limit quota, nor the other way round. One vocabulary for the
refusal, whichever counter makes it: ``RateLimited`` (429) with reason ``budget_exceeded`` or
``rate_limited`` and ``Retry-After`` until the window ends.

``snapshot`` reads the principal's spend for the policy input. It never fails a request: if
Redis cannot answer, the policy sees no spend and still decides (a call it denies keeps its
reason); the budget then holds at admission, per ``state.budgets_on_error``.
"""

from __future__ import annotations

from collections.abc import Mapping

from gateway.domain import Principal
from gateway.errors import RateLimited
from gateway.settings import StateSettings
from gateway.state.budgets import BudgetCounters, Reservation
from gateway.state.counters import MICRO, Counter, CounterStore, Refusal, WindowClock, retry_after
from gateway.state.ratelimit import RateCounters
from gateway.state.redis_client import STATE_ERRORS, FailurePolicy
from signing.schema import RoleProfile


class Quotas:
    def __init__(self, counters: CounterStore, settings: StateSettings, policy: FailurePolicy) -> None:
        self._counters = counters
        self._budgets = BudgetCounters(settings)
        self._rates = RateCounters(settings)
        self._policy = policy
        self._clock = WindowClock()

    async def admit(
        self, principal: Principal, profiles: Mapping[str, RoleProfile], *, usd: float, tokens: int
    ) -> Reservation:
        """Reserve ``usd`` and ``tokens`` and take a rate-limit slot, or raise ``RateLimited``.

        Raises ``Unavailable`` (503 ``state_unavailable``) when Redis fails and a feature the
        call involves fails closed; with every involved feature open the call goes ahead
        unreserved (``Reservation.open`` is False).
        """
        w = self._clock.now()
        amount = int(usd * MICRO + 0.999)  # round up: a reservation never under-counts
        usd_counters = self._budgets.usd(principal, profiles, amount, w)
        token_counters = self._budgets.tokens(principal, profiles, tokens, w)
        rate_counters = self._rates.counters(principal, profiles, tokens, w)
        try:
            refusal = await self._counters.apply([*usd_counters, *token_counters, *rate_counters], "reserve")
        except STATE_ERRORS as exc:
            self._policy.failed_admission(exc, rate_limited=bool(rate_counters))
            return Reservation()
        self._policy.ok()
        if refusal is not None:
            raise refused(refusal)
        return Reservation(tuple(usd_counters), tuple(token_counters), amount, tokens, open=True)

    async def settle(self, reservation: Reservation, usd: float, tokens: int) -> None:
        """Replace the reservation by the real cost (zero for a refund); once only; never raises."""
        if not reservation.open:
            return
        reservation.open = False
        spent = round(usd * MICRO)
        fix = [_delta(c, spent - reservation.reserved_micro) for c in reservation.usd]
        fix += [_delta(c, tokens - reservation.reserved_tokens) for c in reservation.tokens]
        try:
            await self._counters.apply(fix, "settle")
        except STATE_ERRORS as exc:
            # The call is over; a lost correction over-counts (the safe side) until the window ends.
            self._policy.lost_settle(exc)
            return
        self._policy.ok()

    async def snapshot(self, tenant: str, sub: str) -> dict[str, float]:
        """The principal's spend today and this month, and tokens today (policy ``usage``)."""
        try:
            day, month, tokens = await self._counters.read(
                self._budgets.principal_keys(tenant, sub, self._clock.now())
            )
        except STATE_ERRORS as exc:
            self._policy.failed_open("usage_snapshot", exc)
            day = month = tokens = 0
        else:
            self._policy.ok()
        return {"spend_today_usd": day / MICRO, "spend_month_usd": month / MICRO, "tokens_today": tokens}


class QuotaUsage:
    """The ``UsageStore`` the policy input reads: the budget counters ``Quotas`` moves.

    ``record`` does nothing: spend is counted by reserve-then-settle, which a second count
    here would double.
    """

    def __init__(self, quotas: Quotas) -> None:
        self._quotas = quotas

    async def snapshot(self, tenant: str, sub: str) -> dict[str, float]:
        return await self._quotas.snapshot(tenant, sub)

    async def record(self, tenant: str, sub: str, cost_usd: float, tokens: int) -> None:
        return None


def refused(refusal: Refusal) -> RateLimited:
    c = refusal.counter
    headers = {"retry-after": str(retry_after(c.expires_at))}
    if c.kind == "rate":
        return RateLimited(f"rate limit of {c.label} reached", reason="rate_limited", headers=headers)
    return RateLimited(f"{c.label} would be exceeded by this call", reason="budget_exceeded", headers=headers)


def _delta(counter: Counter, amount: int) -> Counter:
    return Counter(counter.key, amount, None, counter.expires_at, counter.label)
