"""Rate limits shared by every replica: requests and tokens per minute.

Limits come from the role profiles (``rate_limits``) and apply per principal and role: a
caller with two limited roles is held to both. Windows are fixed UTC minutes, counted by the
same atomic script as budgets, so replicas share one count; a refused call gets 429 with
``Retry-After`` set to the end of the minute. Tokens are counted at admission from the
input estimate plus ``max_tokens`` (the real output is not known yet).
"""

from __future__ import annotations

from collections.abc import Mapping

from gateway.domain import Principal
from gateway.errors import RateLimited
from gateway.settings import StateSettings
from gateway.state.budgets import principal_name
from gateway.state.counters import Counter, CounterScript, Windows, retry_after
from gateway.state.redis_client import STATE_ERRORS, FailurePolicy
from signing.schema import RoleProfile


class RedisRateLimiter:
    def __init__(self, settings: StateSettings, policy: FailurePolicy, script: CounterScript) -> None:
        self._prefix = settings.key_prefix + "rate:"
        self._policy = policy
        self._script = script

    def counters(
        self, principal: Principal, profiles: Mapping[str, RoleProfile], tokens: int
    ) -> list[Counter]:
        w = Windows.at()
        who = principal_name(principal.tenant, principal.sub)
        counters: list[Counter] = []
        for role in principal.roles:
            limits = profiles[role].rate_limits if role in profiles else None
            if limits is None:
                continue
            base = f"{self._prefix}{who}:{role}:{w.minute}"
            if limits.requests_per_minute is not None:
                label = f"{limits.requests_per_minute} requests per minute for role {role}"
                counters.append(Counter(base + ":req", 1, limits.requests_per_minute, w.minute_end, label))
            if limits.tokens_per_minute is not None:
                label = f"{limits.tokens_per_minute} tokens per minute for role {role}"
                counters.append(Counter(base + ":tok", tokens, limits.tokens_per_minute, w.minute_end, label))
        return counters

    async def admit(self, principal: Principal, profiles: Mapping[str, RoleProfile], tokens: int) -> None:
        """Count the call, or raise ``RateLimited`` (``rate_limited``) without counting it."""
        counters = self.counters(principal, profiles, tokens)
        if not counters:
            return  # no limits: no round trip
        try:
            refusal = await self._script.apply(counters, "reserve")
        except STATE_ERRORS as exc:
            self._policy.failed("rate_limits", exc)
            return
        if refusal is not None:
            c = refusal.counter
            raise RateLimited(
                f"rate limit of {c.label} reached",
                reason="rate_limited",
                headers={"retry-after": str(retry_after(c.expires_at))},
            )
