"""Spreading one model's calls over its deployments (``routing.deployments``).

A deployment is a configured provider entry (another region, another key) that serves the
model's catalog provider: the entry of that name, or one whose ``catalog_provider`` names it.
An entry that serves another provider is never used for the model, so a deployment cannot
move a call to a provider policy did not judge.

The first deployment of a call is picked by weight (``weighted``: a random draw in
proportion to the weights) or by load (``least_in_flight``: the fewest calls in flight per
unit of weight, ties to the heavier). Deployments whose breaker is open are left out of the
pick while any other is closed; the others follow, as the call's alternatives for retries
(closed ones first, heavier first).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass

from gateway.settings import ProviderSettings, RoutingSettings
from gateway.upstream.base import Upstream
from gateway.upstream.breaker import Breakers


@dataclass(frozen=True, slots=True)
class Placed:
    upstream: Upstream
    weight: float
    serves: str  # the catalog provider this deployment stands for


class Balancer:
    def __init__(
        self,
        settings: RoutingSettings,
        upstreams: Mapping[str, Upstream],
        providers: Mapping[str, ProviderSettings],
        breakers: Breakers,
        rng: random.Random | None = None,
    ) -> None:
        self._models = {
            model: tuple(
                Placed(upstreams[d.provider], d.weight, providers[d.provider].catalog_provider or d.provider)
                for d in deployments
                if d.provider in upstreams
            )
            for model, deployments in settings.deployments.items()
        }
        self._least = settings.strategy == "least_in_flight"
        self._breakers = breakers
        self._rng = rng or random.Random()
        self.in_flight: dict[str, int] = {}

    def __contains__(self, model: str) -> bool:
        return model in self._models

    def order(self, model: str, catalog_provider: str) -> tuple[Upstream, ...]:
        """The deployments of ``model`` for one call: the picked one first, then the others."""
        usable = [p for p in self._models.get(model, ()) if p.serves == catalog_provider]
        if not usable:
            return ()
        closed = [p for p in usable if not self._open(p)]
        pool = closed or usable
        first = self._least_loaded(pool) if self._least else self._drawn(pool)
        rest = sorted((p for p in usable if p is not first), key=lambda p: (self._open(p), -p.weight))
        return (first.upstream, *(p.upstream for p in rest))

    def started(self, name: str) -> None:
        self.in_flight[name] = self.in_flight.get(name, 0) + 1

    def ended(self, name: str) -> None:
        self.in_flight[name] = max(0, self.in_flight.get(name, 0) - 1)

    def _open(self, placed: Placed) -> bool:
        breaker = self._breakers.get(placed.upstream.name)
        return breaker is not None and breaker.state() == "open"

    def _drawn(self, pool: list[Placed]) -> Placed:
        point = self._rng.uniform(0, sum(p.weight for p in pool))
        for placed in pool:
            point -= placed.weight
            if point <= 0:
                return placed
        return pool[-1]

    def _least_loaded(self, pool: list[Placed]) -> Placed:
        return min(pool, key=lambda p: (self.in_flight.get(p.upstream.name, 0) / p.weight, -p.weight))
