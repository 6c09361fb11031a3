"""Spend and token counters per principal, the ``usage`` part of the policy input.

Both state backends implement it with the budget counters that admission reserves and
settles (``gateway/state/quotas.py``: ``QuotaUsage``), so the policy sees the same spend
whichever backend counts it.
"""

from __future__ import annotations

from typing import Protocol


class UsageStore(Protocol):
    async def snapshot(self, tenant: str, sub: str) -> dict[str, float]: ...

    async def record(self, tenant: str, sub: str, cost_usd: float, tokens: int) -> None: ...
