"""Budget counters: what a call reserves against, and how much a principal has spent.

Before forwarding, the call's upper bound (input estimate plus ``max_tokens``, priced at the
served model's rates) is reserved on every spend counter it touches, but only if each stays
within its limit (``gateway/state/quotas.py`` does it together with the rate limits, in one
all-or-nothing step); afterwards the reservation is settled to the real cost, or refunded.
Concurrent calls therefore see each other's reservations and cannot overspend together.

Counters per call: the principal (daily and monthly USD, daily tokens; limits from the role
profiles, the strictest of the caller's roles), and each of its roles and its tenant that
has a budget (daily and monthly USD; limits from ``state.role_budgets`` /
``state.tenant_budgets``; a budget added mid-window counts from then on). The principal's
counters count even without a limit: they are the spend in the policy input.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from gateway.domain import Principal
from gateway.settings import ScopeBudget, StateSettings
from gateway.state.counters import MICRO, Counter, Windows
from signing.schema import RoleProfile


@dataclass(slots=True)
class Reservation:
    usd: tuple[Counter, ...] = ()  # reserved micro-dollars in each
    tokens: tuple[Counter, ...] = ()
    reserved_micro: int = 0
    reserved_tokens: int = 0
    open: bool = False  # still to settle (False: settled, or never reserved)


def principal_name(tenant: str, sub: str) -> str:
    # Length-prefixed: no tenant/sub pair can collide with another in the key.
    return f"{len(tenant)}:{tenant}:{sub}"


def strictest(values: Iterable[float | int | None]) -> float | None:
    limits = [v for v in values if v is not None]
    return min(limits) if limits else None


def micro(usd: float | None) -> int | None:
    return None if usd is None else round(usd * MICRO)


class BudgetCounters:
    """Names and limits of every spend counter a call touches."""

    def __init__(self, settings: StateSettings) -> None:
        self._prefix = settings.key_prefix + "spend:"
        self._roles, self._tenants = settings.role_budgets, settings.tenant_budgets
        self._keys: dict[tuple[str, str, str], list[str]] = {}  # the names, built once a day

    def key(self, scope: str, name: str, window: str, unit: str) -> str:
        return f"{self._prefix}{scope}:{name}:{window}:{unit}"

    def principal_keys(self, tenant: str, sub: str, w: Windows) -> list[str]:
        """The principal's spend today, this month, and tokens today (the policy's ``usage``)."""
        found = self._keys.get((tenant, sub, w.day))
        if found is None:
            if len(self._keys) >= 10_000:
                self._keys.clear()  # bounded: yesterday's names go with the rest
            who = principal_name(tenant, sub)
            found = [
                self.key("p", who, w.day, "usd"),
                self.key("p", who, w.month, "usd"),
                self.key("p", who, w.day, "tok"),
            ]
            self._keys[(tenant, sub, w.day)] = found
        return found

    def usd(
        self, principal: Principal, profiles: Mapping[str, RoleProfile], amount: int, w: Windows
    ) -> list[Counter]:
        mine = [profiles[r].budgets for r in principal.roles if r in profiles]
        day, month, _ = self.principal_keys(principal.tenant, principal.sub, w)
        counters = [
            Counter(
                day,
                amount,
                micro(strictest(b.daily_usd for b in mine)),
                w.day_end,
                f"daily budget of {principal.sub}",
            ),
            Counter(
                month,
                amount,
                micro(strictest(b.monthly_usd for b in mine)),
                w.month_end,
                f"monthly budget of {principal.sub}",
            ),
        ]
        for role in principal.roles:
            counters += self._scope("r", role, self._roles.get(role), amount, w, f"role {role}")
        tenant = principal.tenant
        counters += self._scope("t", tenant, self._tenants.get(tenant), amount, w, f"tenant {tenant}")
        return counters

    def tokens(
        self, principal: Principal, profiles: Mapping[str, RoleProfile], tokens: int, w: Windows
    ) -> list[Counter]:
        limit = strictest(profiles[r].budgets.daily_tokens for r in principal.roles if r in profiles)
        key = self.principal_keys(principal.tenant, principal.sub, w)[2]
        label = f"daily token budget of {principal.sub}"
        return [Counter(key, tokens, None if limit is None else int(limit), w.day_end, label)]

    def _scope(
        self, scope: str, name: str, budget: ScopeBudget | None, amount: int, w: Windows, label: str
    ) -> list[Counter]:
        if budget is None:
            return []
        counters = []
        if budget.daily_usd is not None:
            key = self.key(scope, name, w.day, "usd")
            counters.append(
                Counter(key, amount, micro(budget.daily_usd), w.day_end, f"daily budget of {label}")
            )
        if budget.monthly_usd is not None:
            key = self.key(scope, name, w.month, "usd")
            counters.append(
                Counter(key, amount, micro(budget.monthly_usd), w.month_end, f"monthly budget of {label}")
            )
        return counters
