"""Deployments of one model and their circuit breakers (docs/routing.md), end to end in process.

``openai`` and ``openai-eu`` (an entry with ``catalog_provider: openai``: another region of the
same provider for policy) both serve gpt-4o-mini; ``anthropic`` serves claude-3-5-*. Scripted
fake providers fail on cue; breakers open after two failures in a row.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from guard import Guard
from tests.support.gateway import make_settings, running_gateway
from tests.support.issuer import TokenIssuer
from tests.support.scripted import ScriptedProvider, scripted_providers

Bearer = Callable[..., dict[str, str]]
CHAT = "/v1/chat/completions"
ROUTING = {
    "retries": 1,
    "backoff_seconds": 0.001,
    "max_backoff_seconds": 0.002,
    "strategy": "least_in_flight",  # deterministic here: sequential calls, the heavier first
    "deployments": {"gpt-4o-mini": [{"provider": "openai", "weight": 2}, {"provider": "openai-eu"}]},
    "breaker_failures": 2,
    "breaker_cooldown_seconds": 600,
}


@pytest.fixture(scope="module")
def providers() -> Iterator[dict[str, ScriptedProvider]]:
    with scripted_providers("openai", "openai-eu", "anthropic") as started:
        yield started


@pytest.fixture
async def gateway(
    tmp_path: Path, token_issuer: TokenIssuer, providers: dict[str, ScriptedProvider], guard: Guard
) -> AsyncIterator[httpx.AsyncClient]:
    for provider in providers.values():
        provider.reset()
    configured = {
        "openai": {"base_url": providers["openai"].base_url},
        "openai-eu": {"base_url": providers["openai-eu"].base_url, "catalog_provider": "openai"},
        "anthropic": {
            "dialect": "anthropic",
            "base_url": providers["anthropic"].root_url,
            "openai_path": "/v1",
        },
    }
    settings = make_settings(
        tmp_path / "state",
        auth={"issuer": token_issuer.issuer, "audience": token_issuer.audience},
        providers=configured,
        routing=ROUTING,
    )
    async with running_gateway(settings, guard) as client:
        yield client


def chat(model: str = "gpt-4o-mini") -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "hello"}]}


async def newest_event(client: httpx.AsyncClient, bearer: Bearer, count: int) -> dict[str, Any]:
    auditor = bearer(sub="carol", roles=["auditor"])
    for _ in range(100):
        events = (await client.get("/audit?limit=50", headers=auditor)).json()["events"]
        calls = [e for e in events if e["route"] == CHAT]
        if len(calls) >= count:
            return dict(calls[0])
        await asyncio.sleep(0.05)
    raise AssertionError("no audit event")


async def test_a_failing_deployment_hands_over_and_its_breaker_opens(
    gateway: httpx.AsyncClient, bearer: Bearer, providers: dict[str, ScriptedProvider]
) -> None:
    providers["openai"].then("500", "500")
    response = await gateway.post(CHAT, json=chat(), headers=bearer())
    assert response.status_code == 200, response.text
    assert response.headers["x-skein-model"] == "gpt-4o-mini"  # the same model, another deployment
    event = await newest_event(gateway, bearer, 1)
    assert [(a["provider"], a["outcome"]) for a in event["resource"]["attempts"]] == [
        ("openai", "status_500"),
        ("openai", "status_500"),
        ("openai-eu", "ok"),
    ]
    assert event["provider"] == "openai-eu" and "model_fallback" not in event["reasons"]

    # two failures in a row: openai's breaker is open, and the next call goes to openai-eu at once
    response = await gateway.post(CHAT, json=chat(), headers=bearer())
    assert response.status_code == 200
    assert providers["openai"].models == ["gpt-4o-mini", "gpt-4o-mini"]
    assert providers["openai-eu"].models == ["gpt-4o-mini", "gpt-4o-mini"]
    event = await newest_event(gateway, bearer, 2)
    assert event["provider"] == "openai-eu" and "attempts" not in event["resource"]

    ready = (await gateway.get("/readyz")).json()
    assert ready["routing"]["breakers"] == {"openai": "open", "openai-eu": "closed", "anthropic": "closed"}
    assert ready["status"] == "degraded" and "provider openai: circuit breaker open" in ready["reasons"]
    metrics = (await gateway.get("/metrics")).text
    assert 'skein_breaker_state{deployment="openai"} 2.0' in metrics
    assert 'skein_breaker_state{deployment="openai-eu"} 0.0' in metrics


async def test_an_open_breaker_with_nowhere_else_to_go_is_503(
    gateway: httpx.AsyncClient, bearer: Bearer, providers: dict[str, ScriptedProvider]
) -> None:
    providers["anthropic"].then("500", "500")
    first = await gateway.post(CHAT, json=chat("claude-3-5-haiku"), headers=bearer())
    assert first.status_code == 500  # the provider's own answer, after the retry
    refused = await gateway.post(CHAT, json=chat("claude-3-5-haiku"), headers=bearer())
    assert refused.status_code == 503
    assert refused.json()["error"]["code"] == "upstream_circuit_open"
    assert 0 < int(refused.headers["retry-after"]) <= 600
    assert len(providers["anthropic"].models) == 2  # nothing was sent while it is open
    event = await newest_event(gateway, bearer, 2)
    assert [a["outcome"] for a in event["resource"]["attempts"]] == ["upstream_circuit_open"]
