"""Rate-limit counters: requests and tokens per minute, per principal and role.

Limits come from the role profiles (``rate_limits``): a caller with two limited roles is
held to both. Windows are fixed UTC minutes; a refused call gets 429 ``rate_limited`` with
``Retry-After`` set to the end of the minute. Tokens are counted at admission from the input
estimate plus ``max_tokens`` (the real output is not known yet). They are moved together
with the budget counters (``gateway/state/quotas.py``), so a call refused for its budget
takes no rate-limit quota and the other way round.
"""

from __future__ import annotations

from collections.abc import Mapping

from gateway.domain import Principal
from gateway.settings import StateSettings
from gateway.state.budgets import principal_name
from gateway.state.counters import Counter, Windows
from signing.schema import RoleProfile


class RateCounters:
    def __init__(self, settings: StateSettings) -> None:
        self._prefix = settings.key_prefix + "rate:"

    def key(self, principal: Principal, role: str, w: Windows, unit: str) -> str:
        return f"{self._prefix}{principal_name(principal.tenant, principal.sub)}:{role}:{w.minute}:{unit}"

    def counters(
        self, principal: Principal, profiles: Mapping[str, RoleProfile], tokens: int, w: Windows
    ) -> list[Counter]:
        counters: list[Counter] = []
        for role in principal.roles:
            limits = profiles[role].rate_limits if role in profiles else None
            if limits is None:
                continue
            if limits.requests_per_minute is not None:
                label = f"{limits.requests_per_minute} requests per minute for role {role}"
                key = self.key(principal, role, w, "req")
                counters.append(Counter(key, 1, limits.requests_per_minute, w.minute_end, label, "rate"))
            if limits.tokens_per_minute is not None:
                label = f"{limits.tokens_per_minute} tokens per minute for role {role}"
                key = self.key(principal, role, w, "tok")
                counters.append(Counter(key, tokens, limits.tokens_per_minute, w.minute_end, label, "rate"))
        return counters
