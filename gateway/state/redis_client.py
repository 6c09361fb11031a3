"""The shared Redis client, and the one rule for what a Redis failure means for a request.

Self-healing: after a Redis restart or a network blip every pooled connection is dead, and
the first command on each would fail. The client retries a command once, on the same
connection object reconnected, when it fails with a *connection* error; every command the
gateway sends is safe to run twice (reads, and scripts that remember their outcome by
operation id: ``counters.py``, ``idempotency.py``), so a stale connection never fails a
request. A timeout is not retried: a hung Redis costs a request at most
``socket_timeout_seconds``, and never a hang.

When Redis does fail, the feature's failure policy applies (``closed``: the request fails
with 503 ``state_unavailable``; ``open``: it goes ahead uncounted, counted in ``failures``).
The first failure of an outage is logged as a warning, an ongoing one once a minute, and
recovery too; ``problems`` says what is wrong for ``/readyz``.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from gateway.errors import Unavailable
from gateway.settings import StateSettings

log = logging.getLogger("skein.state")

Feature = Literal["budgets", "rate_limits", "idempotency"]
STATE_ERRORS = (RedisError, OSError, TimeoutError)
_LOG_INTERVAL_S = 60.0


def new_client(settings: StateSettings) -> redis.Redis:
    """One bounded pool per process: a burst of requests waits briefly for a connection
    instead of opening hundreds of sockets at once (which is slower for everyone and can
    exhaust Redis' ``maxclients`` when many replicas burst together)."""
    pool = redis.BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=settings.max_connections,
        timeout=settings.socket_timeout_seconds,  # wait for a free connection
        socket_timeout=settings.socket_timeout_seconds,
        socket_connect_timeout=settings.connect_timeout_seconds,
        retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        decode_responses=False,
    )
    return redis.Redis.from_pool(pool)


class FailurePolicy:
    """Decides, per feature, what a Redis failure means for the request; tracks the outage."""

    def __init__(self, settings: StateSettings, ping: Callable[[], Awaitable[Any]] | None = None) -> None:
        self._closed: dict[Feature, bool] = {
            "budgets": settings.budgets_on_error == "closed",
            "rate_limits": settings.rate_limits_on_error == "closed",
            "idempotency": settings.idempotency_on_error == "closed",
        }
        self._ping = ping
        # Failures that let requests through, settles lost; /metrics exports these.
        self.failures: Counter[str] = Counter()
        self._failing_since: float | None = None
        self._last_error = ""
        self._logged_at = 0.0
        self._outage_failures = 0

    # -- outcomes ----------------------------------------------------------------------------

    def ok(self) -> None:
        """A Redis call succeeded (cheap when nothing was failing)."""
        if self._failing_since is not None:
            log.warning(
                "shared state (Redis) reachable again after %.0fs (%d calls affected)",
                time.monotonic() - self._failing_since,
                self._outage_failures,
            )
            self._failing_since = None

    def failed(self, feature: Feature, exc: BaseException) -> None:
        """Raise ``Unavailable`` when the feature fails closed; else count and let through."""
        self._note(exc)
        if self._closed[feature]:
            raise Unavailable(
                f"shared state (Redis) is unavailable for {feature.replace('_', ' ')}",
                reason="state_unavailable",
            ) from exc
        self.failures[feature] += 1

    def failed_admission(self, exc: BaseException, *, rate_limited: bool) -> None:
        """The one step that moves budgets and rate limits failed: the stricter policy wins."""
        if rate_limited and self._closed["rate_limits"] and not self._closed["budgets"]:
            self.failed("rate_limits", exc)
        self.failed("budgets", exc)
        if rate_limited:
            self.failures["rate_limits"] += 1

    def failed_open(self, what: str, exc: BaseException) -> None:
        """A failure that must not fail the request (a read for the policy input)."""
        self._note(exc)
        self.failures[what] += 1

    def lost_settle(self, exc: BaseException) -> None:
        """A settle or refund that did not reach Redis: never fails the finished call."""
        self._note(exc)
        self.failures["budgets_settle"] += 1

    # -- health ------------------------------------------------------------------------------

    @property
    def up(self) -> bool:
        return self._failing_since is None

    def problems(self) -> list[str]:
        """Why shared state is degraded, for ``/readyz``; empty while healthy."""
        if self._failing_since is None:
            return []
        since = time.monotonic() - self._failing_since
        modes = ", ".join(
            f"{feature.replace('_', ' ')} {'refused (503)' if closed else 'not enforced'}"
            for feature, closed in self._closed.items()
        )
        return [
            f"shared state (Redis) failing for {since:.0f}s ({self._last_error}); calls meanwhile: {modes}"
        ]

    async def check(self) -> None:
        """While failing, ping Redis so that recovery shows without waiting for traffic."""
        if self._failing_since is None or self._ping is None:
            return
        try:
            await self._ping()
        except STATE_ERRORS as exc:
            self._last_error = _describe(exc)
            return
        self.ok()

    def _note(self, exc: BaseException) -> None:
        now = time.monotonic()
        self._last_error = _describe(exc)
        if self._failing_since is None:
            self._failing_since, self._logged_at, self._outage_failures = now, now, 1
            log.warning("shared state (Redis) failing: %s", self._last_error)
            return
        self._outage_failures += 1
        if now - self._logged_at >= _LOG_INTERVAL_S:
            self._logged_at = now
            log.warning(
                "shared state (Redis) still failing (%d calls affected): %s",
                self._outage_failures,
                self._last_error,
            )


def _describe(exc: BaseException) -> str:
    """``ConnectionError: Error 111 connecting ...`` (redis-py's repr hides the message)."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}"[:200]
