"""The state every gateway has: quotas (budgets + rate limits) and Idempotency-Keys.

``open_state`` builds it in the app's lifespan, always: ``state.backend: memory`` (the
default) keeps everything in this process, which enforces exactly what a cluster does but
only for calls this process serves (run one process, or use Redis); ``redis`` shares it
across replicas. Both backends implement the same protocols (``CounterStore``,
``Idempotency``) and pass the same tests, so the pipeline never asks which one it has.
"""

from __future__ import annotations

import logging
from contextlib import AsyncExitStack
from dataclasses import dataclass

import redis.asyncio as redis

from gateway.settings import StateSettings
from gateway.state.counters import CounterStore, MemoryCounters, RedisCounters
from gateway.state.idempotency import Idempotency, MemoryIdempotency, RedisIdempotency
from gateway.state.quotas import Quotas, QuotaUsage
from gateway.state.redis_client import STATE_ERRORS, FailurePolicy, new_client

log = logging.getLogger("skein.state")


@dataclass(frozen=True, slots=True)
class SharedState:
    quotas: Quotas
    idempotency: Idempotency
    usage: QuotaUsage
    policy: FailurePolicy  # failure modes, outage health, failures let through
    default_max_tokens: int
    backend: str
    client: redis.Redis | None = None  # the Redis connection pool, with backend "redis"


async def open_state(settings: StateSettings, stack: AsyncExitStack) -> SharedState:
    """The configured state; Redis connections close with ``stack``."""
    counters: CounterStore
    idempotency: Idempotency
    client: redis.Redis | None = None
    if settings.backend == "redis":
        client = new_client(settings)
        stack.push_async_callback(client.aclose)
        policy = FailurePolicy(settings, ping=client.ping)
        try:
            await client.ping()
        except STATE_ERRORS as exc:
            # Not fatal: each feature's failure policy decides per request, and Redis may come back.
            log.error("Redis (state.redis_url) is not reachable at start-up: %s: %s", type(exc).__name__, exc)
            policy.failed_open("startup", exc)
        counters = RedisCounters(client, settings.key_prefix)
        idempotency = RedisIdempotency(client, settings, policy)
    else:
        policy = FailurePolicy(settings)
        counters, idempotency = MemoryCounters(), MemoryIdempotency(settings)
    quotas = Quotas(counters, settings, policy)
    return SharedState(
        quotas=quotas,
        idempotency=idempotency,
        usage=QuotaUsage(quotas),
        policy=policy,
        default_max_tokens=settings.default_max_tokens,
        backend=settings.backend,
        client=client,
    )
