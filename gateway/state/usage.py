"""Spend and token counters per principal, the ``usage`` part of the policy input.

This is the embedded single-process store (the default). Several replicas need the shared
Redis store with reserve-then-settle, which keeps the same two methods.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol


@dataclass(slots=True)
class Spend:
    day: str = ""
    month: str = ""
    usd_today: float = 0.0
    usd_month: float = 0.0
    tokens_today: int = 0


class UsageStore(Protocol):
    async def snapshot(self, tenant: str, sub: str) -> dict[str, float]: ...

    async def record(self, tenant: str, sub: str, cost_usd: float, tokens: int) -> None: ...


class MemoryUsageStore:
    def __init__(self, max_principals: int = 100_000) -> None:
        self._spend: dict[tuple[str, str], Spend] = {}
        self._max = max_principals

    async def snapshot(self, tenant: str, sub: str) -> dict[str, float]:
        spend = self._current(tenant, sub)
        return {
            "spend_today_usd": spend.usd_today,
            "spend_month_usd": spend.usd_month,
            "tokens_today": spend.tokens_today,
        }

    async def record(self, tenant: str, sub: str, cost_usd: float, tokens: int) -> None:
        spend = self._current(tenant, sub)
        spend.usd_today += cost_usd
        spend.usd_month += cost_usd
        spend.tokens_today += tokens

    def _current(self, tenant: str, sub: str) -> Spend:
        day = time.strftime("%Y-%m-%d", time.gmtime())
        key = (tenant, sub)
        spend = self._spend.get(key)
        if spend is None:
            if len(self._spend) >= self._max:
                self._spend.clear()  # bounded memory; Redis is the store for real fleets
            spend = self._spend[key] = Spend(day=day, month=day[:7])
        if spend.day != day:
            spend.day, spend.usd_today, spend.tokens_today = day, 0.0, 0
        if spend.month != day[:7]:
            spend.month, spend.usd_month = day[:7], 0.0
        return spend
