"""The shared Redis client and the one rule for Redis failures.

Every call has a socket timeout and no client-side retry: a slow or dead Redis costs a
request at most ``socket_timeout_seconds`` before the feature's failure policy applies
(``closed``: the request fails with 503 ``state_unavailable``; ``open``: it goes ahead
uncounted, logged and counted in ``failures``). A request never hangs on Redis.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Literal

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from gateway.errors import Unavailable
from gateway.settings import StateSettings

log = logging.getLogger("skein.state")

Feature = Literal["budgets", "rate_limits", "idempotency"]
STATE_ERRORS = (RedisError, OSError, TimeoutError)


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
        retry=Retry(NoBackoff(), 0),
        decode_responses=False,
    )
    return redis.Redis.from_pool(pool)


class FailurePolicy:
    """Decides, per feature, what a Redis failure means for the request."""

    def __init__(self, settings: StateSettings) -> None:
        self._closed: dict[Feature, bool] = {
            "budgets": settings.budgets_on_error == "closed",
            "rate_limits": settings.rate_limits_on_error == "closed",
            "idempotency": settings.idempotency_on_error == "closed",
        }
        # Failures that let requests through; /metrics can export these (see the docs).
        self.failures: Counter[str] = Counter()

    def failed(self, feature: Feature, exc: BaseException) -> None:
        """Raise ``Unavailable`` when the feature fails closed; else log and count."""
        if self._closed[feature]:
            log.error("shared state unavailable; refusing the request (%s): %r", feature, exc)
            raise Unavailable(
                f"shared state (Redis) is unavailable for {feature.replace('_', ' ')}",
                reason="state_unavailable",
            ) from exc
        self.failures[feature] += 1
        log.warning("shared state unavailable; %s not enforced for this request: %r", feature, exc)

    def lost_settle(self, exc: BaseException) -> None:
        """A settle or refund that did not reach Redis: never fails the finished call."""
        self.failures["budgets_settle"] += 1
        log.warning("budget settle lost; the reservation stays counted until its window ends: %r", exc)
