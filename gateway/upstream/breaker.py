"""Circuit breakers, one per deployment (a configured provider entry): stop sending to one
that keeps failing, and find out cheaply when it is back.

* **closed**: calls go through; consecutive retryable failures are counted, a success
  resets the count;
* **open** after ``failures`` of them in a row: calls are not sent (the forward stage moves
  on to another deployment or a fallback, or answers ``503 upstream_circuit_open`` with a
  Retry-After) for ``cooldown_seconds``;
* **half-open** after the cooldown: one call at a time is let through as a probe; its
  success closes the breaker, its failure opens it for another cooldown. A probe that never
  reports (its caller went away) stops blocking others after one more cooldown.

State is per process; with Redis (``state.backend: redis``) replicas also share when a breaker
opened (``gateway.state.breakers``), so one replica's ``failures`` are enough for all of them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Literal

BreakerState = Literal["closed", "half_open", "open"]
STATE_VALUES: dict[BreakerState, float] = {"closed": 0.0, "half_open": 1.0, "open": 2.0}


class Breaker:
    __slots__ = ("_clock", "_cooldown", "_threshold", "failures", "opened_at", "probe_at")

    def __init__(self, failures: int, cooldown_seconds: float, clock: Callable[[], float]) -> None:
        self._threshold = failures
        self._cooldown = cooldown_seconds
        self._clock = clock
        self.failures = 0
        self.opened_at: float | None = None
        self.probe_at: float | None = None  # when the current half-open probe was let through

    def state(self) -> BreakerState:
        if self.opened_at is None:
            return "closed"
        return "open" if self._clock() - self.opened_at < self._cooldown else "half_open"

    def retry_after(self) -> float:
        """Seconds until the breaker lets a probe through (0 when it does now)."""
        if self.opened_at is None:
            return 0.0
        return max(0.0, self._cooldown - (self._clock() - self.opened_at))

    def allows(self) -> bool:
        """Whether a call may be sent now; in half-open state, the call that gets True is the probe."""
        if self.opened_at is None:
            return True
        now = self._clock()
        if now - self.opened_at < self._cooldown:
            return False
        if self.probe_at is not None and now - self.probe_at < self._cooldown:
            return False  # one probe at a time
        self.probe_at = now
        return True

    def succeeded(self) -> None:
        if self.failures or self.opened_at is not None:
            self.failures, self.opened_at, self.probe_at = 0, None, None

    def failed(self) -> None:
        self.failures += 1
        if self.opened_at is not None or self.failures >= self._threshold:
            self.opened_at, self.probe_at = self._clock(), None

    def open_since(self, seconds_ago: float) -> None:
        """Open as if it had opened ``seconds_ago`` (another replica saw it fail); an open
        breaker that opened later keeps its own time."""
        opened = self._clock() - max(0.0, seconds_ago)
        if self.opened_at is None or opened > self.opened_at:
            self.opened_at, self.probe_at = opened, None

    def open_age(self) -> float | None:
        """Seconds since it opened, while it is open (not half-open); else None."""
        if self.opened_at is None:
            return None
        age = self._clock() - self.opened_at
        return age if age < self._cooldown else None

    @property
    def cooldown(self) -> float:
        return self._cooldown


class Breakers:
    """The breakers of the configured deployments; empty when breakers are off."""

    def __init__(
        self,
        names: Iterable[str],
        failures: int,
        cooldown_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.by_name: dict[str, Breaker] = (
            {name: Breaker(failures, cooldown_seconds, clock) for name in names} if failures > 0 else {}
        )

    def get(self, name: str) -> Breaker | None:
        return self.by_name.get(name)

    def states(self) -> dict[str, BreakerState]:
        return {name: breaker.state() for name, breaker in self.by_name.items()}
