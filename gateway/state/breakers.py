"""Circuit breakers shared between replicas through Redis (``state.backend: redis``).

Nothing on the request path talks to Redis for this: each replica keeps deciding with its own
breakers (``gateway.upstream.breaker``), and a background loop, every ``interval`` seconds,

* **publishes** each breaker that opened here: ``<prefix>breaker:<deployment>`` holds the wall
  time it opened and expires when its cooldown ends;
* **adopts** the breakers other replicas opened: a key present for a breaker that is closed
  here opens it, backdated to when it opened there, so every replica reaches half-open at the
  same moment.

Closing is not shared: the key expires with the cooldown, and each replica probes on its own
(one call), so a deployment that is back is back everywhere within one cooldown. A Redis
failure only delays the sharing; the local breakers keep working (logged once a minute).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

import redis.asyncio as redis

from gateway.state.redis_client import STATE_ERRORS
from gateway.upstream.breaker import Breakers

log = logging.getLogger("skein.state")
_LOG_INTERVAL_S = 60.0


class BreakerSync:
    def __init__(
        self,
        breakers: Breakers,
        client: redis.Redis,
        prefix: str,
        *,
        interval: float = 1.0,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._breakers = breakers
        self._client = client
        self._prefix = prefix
        self._interval = interval
        self._wall = wall
        self._published: dict[str, float] = {}  # deployment -> the local open age published
        self._task: asyncio.Task[None] | None = None
        self._logged = 0.0

    def key(self, name: str) -> str:
        return f"{self._prefix}breaker:{name}"

    def start(self) -> None:
        if self._breakers.by_name:
            self._task = asyncio.create_task(self._loop())

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.once()
            except STATE_ERRORS as exc:
                now = time.monotonic()
                if now - self._logged >= _LOG_INTERVAL_S:
                    self._logged = now
                    log.warning("sharing circuit breakers through Redis failed: %s", type(exc).__name__)

    async def once(self) -> None:
        """One round: publish what opened here, adopt what opened elsewhere."""
        names = list(self._breakers.by_name)
        now = self._wall()
        for name in names:
            breaker = self._breakers.by_name[name]
            age = breaker.open_age()
            if age is None:
                self._published.pop(name, None)
                continue
            opened = now - age
            if self._published.get(name) is not None and abs(self._published[name] - opened) < 0.5:
                continue  # this opening is published already
            remaining_ms = max(1, int((breaker.cooldown - age) * 1000))
            await self._client.set(self.key(name), repr(opened).encode(), px=remaining_ms)
            self._published[name] = opened
        values = await self._client.mget([self.key(name) for name in names])
        for name, raw in zip(names, values, strict=True):
            if raw is None:
                continue
            try:
                opened = float(raw)
            except ValueError:
                continue  # not ours: ignore, never trust it further
            breaker, age = self._breakers.by_name[name], now - opened
            if 0 <= age < breaker.cooldown:  # (an expired opening: the key outlived its TTL)
                breaker.open_since(age)
                self._published.setdefault(name, opened)  # adopted: not ours to publish again
