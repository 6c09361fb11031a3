"""Shared state for several replicas: budgets, rate limits and idempotency on one Redis.

Built in the app's lifespan when ``state.backend`` is ``redis`` (``open_shared_state``);
the ``Gateway`` reaches it through its hook methods (``admit``, ``settle_budget``,
``idempotency_begin``, ``idempotency_finish`` in ``gateway/pipeline.py``). With the memory
backend there is no shared state and those hooks do nothing; budgets then act only through
policy (``usage`` in the policy input).
"""

from __future__ import annotations

import logging
from contextlib import AsyncExitStack
from dataclasses import dataclass

from gateway.settings import StateSettings
from gateway.state.budgets import RedisBudgets, RedisUsageStore
from gateway.state.counters import CounterScript
from gateway.state.idempotency import RedisIdempotency
from gateway.state.ratelimit import RedisRateLimiter
from gateway.state.redis_client import STATE_ERRORS, FailurePolicy, new_client

log = logging.getLogger("skein.state")


@dataclass(frozen=True, slots=True)
class SharedState:
    budgets: RedisBudgets
    rate_limits: RedisRateLimiter
    idempotency: RedisIdempotency
    usage: RedisUsageStore
    policy: FailurePolicy
    default_max_tokens: int


async def open_shared_state(settings: StateSettings, stack: AsyncExitStack) -> SharedState | None:
    """The Redis-backed state, or None for the memory backend; closed with ``stack``."""
    if settings.backend != "redis":
        return None
    client = new_client(settings)
    stack.push_async_callback(client.aclose)
    try:
        await client.ping()
    except STATE_ERRORS as exc:
        # Not fatal: each feature's failure policy decides per request, and Redis may come back.
        log.error("Redis (state.redis_url) is not reachable at start-up: %r", exc)
    policy = FailurePolicy(settings)
    script = CounterScript(client)
    budgets = RedisBudgets(client, settings, policy, script)
    return SharedState(
        budgets=budgets,
        rate_limits=RedisRateLimiter(settings, policy, script),
        idempotency=RedisIdempotency(client, settings, policy),
        usage=RedisUsageStore(budgets, client, policy),
        policy=policy,
        default_max_tokens=settings.default_max_tokens,
    )
