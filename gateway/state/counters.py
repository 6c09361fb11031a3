"""Windowed counters in Redis, checked and moved by one Lua script.

Budgets and rate limits are the same thing: counters over a window (a minute, a day, a
month), each with an optional limit. ``reserve`` checks *every* counter of a call against
its limit and only then increments them all, inside one script: Redis runs a script
atomically, so two replicas reserving at the same moment cannot both see room that only
one of them has. ``settle`` adds signed corrections (real cost minus the reservation, or
minus all of it as a refund) without a check: the call already happened.

Amounts are integers (micro-dollars, tokens, requests) so that INCRBY stays exact. Keys
expire at their window's end (EXPIREAT), so old windows clean themselves up. A script
touches keys of several principals/roles/tenants: run Redis standalone or with Sentinel,
not Cluster.
"""

from __future__ import annotations

import calendar
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import redis.asyncio as redis

MICRO = 1_000_000  # dollars are counted in micro-dollars

# KEYS: the counters. ARGV[1]: "reserve" | "settle"; then per key i: amount, limit (-1:
# none), expire-at (unix seconds) at ARGV[3i-1], ARGV[3i], ARGV[3i+1].
# Returns {0, 0} when applied, else {i, current} for the first counter without room.
_SCRIPT = """
local n = #KEYS
if ARGV[1] == "reserve" then
  for i = 1, n do
    local limit = tonumber(ARGV[3 * i])
    if limit >= 0 then
      local current = tonumber(redis.call("GET", KEYS[i]) or "0")
      if current + tonumber(ARGV[3 * i - 1]) > limit then
        return {i, current}
      end
    end
  end
end
for i = 1, n do
  redis.call("INCRBY", KEYS[i], ARGV[3 * i - 1])
  redis.call("EXPIREAT", KEYS[i], ARGV[3 * i + 1])
end
return {0, 0}
"""

Mode = Literal["reserve", "settle"]


@dataclass(frozen=True, slots=True)
class Counter:
    key: str
    amount: int
    limit: int | None  # None: counted, never refused
    expires_at: int  # unix seconds: the end of the window (plus a margin)
    label: str = ""  # for the refusal message: "daily budget of alice"


@dataclass(frozen=True, slots=True)
class Refusal:
    counter: Counter
    current: int


class CounterScript:
    """The registered script; one instance per Redis client."""

    def __init__(self, client: redis.Redis) -> None:
        self._script = client.register_script(_SCRIPT)

    async def apply(self, counters: Sequence[Counter], mode: Mode) -> Refusal | None:
        if not counters:
            return None
        argv: list[str | int] = [mode]
        for c in counters:
            argv += [c.amount, -1 if c.limit is None else c.limit, c.expires_at]
        index, current = await self._script(keys=[c.key for c in counters], args=argv)
        return None if index == 0 else Refusal(counters[int(index) - 1], int(current))


@dataclass(frozen=True, slots=True)
class Windows:
    """The current minute, day and month (UTC) and when each ends."""

    minute: str
    day: str
    month: str
    minute_end: int
    day_end: int
    month_end: int

    @classmethod
    def at(cls, now: float | None = None) -> Windows:
        now = time.time() if now is None else now
        t = time.gmtime(now)
        day_start = int(now) - (t.tm_hour * 3600 + t.tm_min * 60 + t.tm_sec)
        month_end = calendar.timegm((t.tm_year + t.tm_mon // 12, t.tm_mon % 12 + 1, 1, 0, 0, 0))
        return cls(
            minute=str(int(now) // 60),
            day=time.strftime("%Y-%m-%d", t),
            month=time.strftime("%Y-%m", t),
            minute_end=(int(now) // 60 + 1) * 60,
            day_end=day_start + 86400,
            month_end=month_end,
        )


def retry_after(expires_at: int, now: float | None = None) -> int:
    """Whole seconds until a window ends (at least 1), for ``Retry-After``."""
    now = time.time() if now is None else now
    return max(1, int(expires_at - now + 0.999))
