"""Windowed counters, checked and moved all-or-nothing: in Redis (one Lua script) or in memory.

Budgets and rate limits are the same thing: counters over a window (a minute, a day, a
month), each with an optional limit. ``reserve`` checks *every* counter of a call against
its limit and only then increments them all, in one step: Redis runs a script atomically
(two replicas reserving at once cannot both see room only one has), and the memory store
does the whole check-and-add without yielding to the event loop. A call refused by any one
counter therefore takes nothing from the others. ``settle`` adds signed corrections (real
cost minus the reservation, or minus all of it as a refund) without a check: the call
already happened.

Amounts are integers (micro-dollars, tokens, requests) so that additions stay exact. Keys
expire at their window's end, so old windows clean themselves up. A script touches keys of
several principals/roles/tenants: run Redis standalone or with Sentinel, not Cluster.

Retry-safe: the Redis client retries a command once on a fresh connection when a pooled one
turns out dead (``redis_client.py``), and a script whose reply was lost may then run twice.
Each application carries a random operation id; the script remembers the outcome under it
for a minute, and a second run returns that outcome without counting again.
"""

from __future__ import annotations

import calendar
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple, Protocol

import redis.asyncio as redis

MICRO = 1_000_000  # dollars are counted in micro-dollars

Mode = Literal["reserve", "settle"]
Kind = Literal["budget", "rate"]


class Counter(NamedTuple):  # a tuple: a call builds several, and cheaply
    key: str
    amount: int
    limit: int | None  # None: counted, never refused
    expires_at: int  # unix seconds: the end of the window
    label: str = ""  # for the refusal message: "daily budget of alice"
    kind: Kind = "budget"  # which refusal it makes: budget_exceeded or rate_limited


@dataclass(frozen=True, slots=True)
class Refusal:
    counter: Counter
    current: int


class CounterStore(Protocol):
    async def apply(self, counters: Sequence[Counter], mode: Mode) -> Refusal | None:
        """``reserve``: all counters have room and are all moved, or none is (the refusal).
        ``settle``: every amount is added, unchecked."""
        ...

    async def read(self, keys: Sequence[str]) -> list[int]:
        """Current values (0 for a missing or expired key)."""
        ...


# KEYS: the counters, then the operation key. ARGV[1]: "reserve" | "settle"; then per
# counter i: amount, limit (-1: none), expire-at (unix seconds) at ARGV[3i-1], ARGV[3i],
# ARGV[3i+1]. Returns {0, 0} when applied, else {i, current} for the first counter without
# room; a second run with the same operation key returns the first run's answer unchanged.
_SCRIPT = """
local op = KEYS[#KEYS]
local seen = redis.call("GET", op)
if seen then
  local i, current = string.match(seen, "^(%d+):(-?%d+)$")
  return {tonumber(i), tonumber(current)}
end
local n = #KEYS - 1
local answer = {0, 0}
if ARGV[1] == "reserve" then
  for i = 1, n do
    local limit = tonumber(ARGV[3 * i])
    if limit >= 0 then
      local current = tonumber(redis.call("GET", KEYS[i]) or "0")
      if current + tonumber(ARGV[3 * i - 1]) > limit then
        answer = {i, current}
        break
      end
    end
  end
end
if answer[1] == 0 then
  for i = 1, n do
    redis.call("INCRBY", KEYS[i], ARGV[3 * i - 1])
    redis.call("EXPIREAT", KEYS[i], ARGV[3 * i + 1])
  end
end
redis.call("SET", op, answer[1] .. ":" .. answer[2], "EX", 60)
return answer
"""


class RedisCounters:
    """The ``CounterStore`` shared by every replica; one per Redis client."""

    def __init__(self, client: redis.Redis, key_prefix: str) -> None:
        self._client = client
        self._script = client.register_script(_SCRIPT)
        self._ops = key_prefix + "op:"

    async def apply(self, counters: Sequence[Counter], mode: Mode) -> Refusal | None:
        if not counters:
            return None
        argv: list[str | int] = [mode]
        for c in counters:
            argv += [c.amount, -1 if c.limit is None else c.limit, c.expires_at]
        keys = [c.key for c in counters] + [self._ops + os.urandom(12).hex()]
        index, current = await self._script(keys=keys, args=argv)
        return None if index == 0 else Refusal(counters[int(index) - 1], int(current))

    async def read(self, keys: Sequence[str]) -> list[int]:
        values = await self._client.mget(list(keys))
        return [int(v or 0) for v in values]


class MemoryCounters:
    """The ``CounterStore`` of one process (the embedded default): a dict with expiry.

    Every method runs to completion without awaiting, so a reservation is atomic with
    respect to every other request of the process. Expired windows are swept once a minute.
    """

    def __init__(self) -> None:
        self._values: dict[str, tuple[int, int]] = {}  # key -> (value, expires_at)
        self._next_sweep = 0.0

    async def apply(self, counters: Sequence[Counter], mode: Mode) -> Refusal | None:
        now = int(time.time())
        self._sweep(now)
        current = [self._get(c.key, now) for c in counters]  # a call names each key once
        if mode == "reserve":
            for c, value in zip(counters, current, strict=True):
                if c.limit is not None and value + c.amount > c.limit:
                    return Refusal(c, value)
        values = self._values
        for c, value in zip(counters, current, strict=True):
            values[c.key] = (value + c.amount, c.expires_at)
        return None

    async def read(self, keys: Sequence[str]) -> list[int]:
        now = int(time.time())
        return [self._get(key, now) for key in keys]

    def _get(self, key: str, now: int) -> int:
        found = self._values.get(key)
        return found[0] if found is not None and found[1] > now else 0

    def _sweep(self, now: int) -> None:
        if now < self._next_sweep:
            return
        self._next_sweep = now + 60
        for key in [k for k, (_, expires) in self._values.items() if expires <= now]:
            del self._values[key]


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


class WindowClock:
    """``Windows.at()`` for the current second, computed once per second (calls share it)."""

    def __init__(self) -> None:
        self._second = -1
        self._windows = Windows.at(0)

    def now(self) -> Windows:
        now = time.time()
        if int(now) != self._second:
            self._second, self._windows = int(now), Windows.at(now)
        return self._windows


def retry_after(expires_at: int, now: float | None = None) -> int:
    """Whole seconds until a window ends (at least 1), for ``Retry-After``."""
    now = time.time() if now is None else now
    return max(1, int(expires_at - now + 0.999))
