"""Circuit breakers and the deployment balancer, on their own (a fake clock, a seeded draw)."""

from __future__ import annotations

import random
from collections import Counter

from gateway.settings import ProviderSettings, RoutingSettings
from gateway.upstream.balance import Balancer
from gateway.upstream.base import Upstream, UpstreamRequest, UpstreamResponse
from gateway.upstream.breaker import Breaker, Breakers


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Named:
    def __init__(self, name: str) -> None:
        self.name = name

    def speaks(self, family: str) -> bool:
        return True

    async def send(self, request: UpstreamRequest) -> UpstreamResponse:
        raise AssertionError("these tests choose deployments; nothing is sent")

    async def aclose(self) -> None:
        return None


def test_a_breaker_opens_after_failures_in_a_row_and_probes_after_the_cooldown() -> None:
    clock = Clock()
    breaker = Breaker(3, 30.0, clock)
    breaker.failed()
    breaker.failed()
    breaker.succeeded()  # a success in between: the count starts again
    breaker.failed()
    breaker.failed()
    assert breaker.state() == "closed" and breaker.allows()
    breaker.failed()
    assert breaker.state() == "open" and not breaker.allows()
    assert breaker.retry_after() == 30.0
    clock.now += 30
    assert breaker.state() == "half_open"
    assert breaker.allows()  # the probe
    assert not breaker.allows()  # one at a time
    breaker.failed()  # the probe failed: open again, for a whole cooldown
    assert breaker.state() == "open"
    clock.now += 30
    assert breaker.allows()
    breaker.succeeded()
    assert breaker.state() == "closed" and breaker.allows() and breaker.allows()


def test_a_lost_probe_does_not_block_forever() -> None:
    clock = Clock()
    breaker = Breaker(1, 10.0, clock)
    breaker.failed()
    clock.now += 10
    assert breaker.allows()  # the probe's caller goes away and never reports
    clock.now += 5
    assert not breaker.allows()
    clock.now += 5
    assert breaker.allows()


def test_breakers_off() -> None:
    assert Breakers(["openai"], 0, 30.0).get("openai") is None
    assert Breakers(["openai"], 2, 30.0).states() == {"openai": "closed"}


def balancer(strategy: str, breakers: Breakers, **weights: float) -> Balancer:
    upstreams: dict[str, Upstream] = {name: Named(name) for name in [*weights, "anthropic"]}
    providers = {
        name: ProviderSettings(base_url="http://x", catalog_provider=None if name == "openai" else "openai")
        for name in weights
    }
    providers["anthropic"] = ProviderSettings(base_url="http://y")
    deployments = [{"provider": name, "weight": weight} for name, weight in weights.items()]
    settings = RoutingSettings.model_validate(
        {"strategy": strategy, "deployments": {"gpt-4o": [*deployments, {"provider": "anthropic"}]}}
    )
    return Balancer(settings, upstreams, providers, breakers, random.Random(3))


def test_weighted_choice_follows_the_weights() -> None:
    spread = balancer("weighted", Breakers((), 0, 1), openai=3, openai_eu=1)
    chosen = Counter(spread.order("gpt-4o", "openai")[0].name for _ in range(4000))
    assert 2800 < chosen["openai"] < 3200 and chosen["openai"] + chosen["openai_eu"] == 4000


def test_a_deployment_of_another_provider_is_never_used() -> None:
    placed = balancer("weighted", Breakers((), 0, 1), openai=1).order("gpt-4o", "openai")
    assert [u.name for u in placed] == ["openai"]  # the anthropic entry does not serve openai
    assert balancer("weighted", Breakers((), 0, 1), openai=1).order("gpt-4o", "ollama") == ()


def test_least_in_flight_per_weight() -> None:
    spread = balancer("least_in_flight", Breakers((), 0, 1), openai=2, openai_eu=1)
    assert [u.name for u in spread.order("gpt-4o", "openai")] == ["openai", "openai_eu"]
    spread.started("openai")
    spread.started("openai")
    spread.started("openai_eu")  # 2/2 against 1/1: a tie goes to the heavier
    assert spread.order("gpt-4o", "openai")[0].name == "openai"
    spread.started("openai")
    assert spread.order("gpt-4o", "openai")[0].name == "openai_eu"
    spread.ended("openai")
    spread.ended("openai")
    assert spread.order("gpt-4o", "openai")[0].name == "openai"


def test_an_open_breaker_goes_last() -> None:
    clock = Clock()
    breakers = Breakers(["openai", "openai_eu"], 1, 30.0, clock)
    spread = balancer("weighted", breakers, openai=100, openai_eu=1)
    breakers.by_name["openai"].failed()
    for _ in range(20):
        assert [u.name for u in spread.order("gpt-4o", "openai")] == ["openai_eu", "openai"]
    clock.now += 30  # half-open: back in the draw
    assert Counter(spread.order("gpt-4o", "openai")[0].name for _ in range(50))["openai"] > 40
