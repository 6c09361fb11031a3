"""Retries and fallbacks in the forward path (docs/routing.md), against scripted fake providers.

Real app, real JWT, real Rego over the repository's bundle. ``openai`` (gpt-4o-mini, gpt-4o),
``anthropic`` (claude-3-5-*) and ``ollama`` (llama3.2) are three scripted providers that fail
as each test says: 429 with Retry-After, 500, a reset connection, a hang before the answer's
head, a stream cut midway. Backoffs are a millisecond: no test waits for real.
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
    "max_retry_after_seconds": 5,
    "fallbacks": {"gpt-4o-mini": ["gpt-4o", "claude-3-5-haiku"], "llama3.2": ["gpt-4o-mini"]},
}


@pytest.fixture(scope="module")
def providers() -> Iterator[dict[str, ScriptedProvider]]:
    with scripted_providers("openai", "anthropic", "ollama") as started:
        yield started


@pytest.fixture
async def gateway(
    tmp_path: Path, token_issuer: TokenIssuer, providers: dict[str, ScriptedProvider], guard: Guard
) -> AsyncIterator[httpx.AsyncClient]:
    for provider in providers.values():
        provider.reset()
    # Short enough for the hang test, long enough that a loaded machine never trips it by accident.
    timeouts = {"read_timeout_seconds": 1.5, "response_timeout_seconds": 5}
    configured = {
        "openai": {"base_url": providers["openai"].base_url, **timeouts},
        "anthropic": {
            "dialect": "anthropic",
            "base_url": providers["anthropic"].root_url,
            "openai_path": "/v1",
        },
        "ollama": {"dialect": "ollama", "base_url": providers["ollama"].root_url, "openai_path": "/v1"},
    }
    settings = make_settings(
        tmp_path / "state",
        auth={"issuer": token_issuer.issuer, "audience": token_issuer.audience},
        providers=configured,
        routing=ROUTING,
    )
    async with running_gateway(settings, guard) as client:
        yield client


def chat(model: str = "gpt-4o-mini", text: str = "hello", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": text}], **extra}


async def last_event(client: httpx.AsyncClient, bearer: Bearer) -> dict[str, Any]:
    """The newest chat call's audit event, once written."""
    auditor = bearer(sub="carol", roles=["auditor"])
    for _ in range(100):
        events = (await client.get("/audit?limit=20", headers=auditor)).json()["events"]
        calls = [e for e in events if e["route"] == CHAT]
        if calls:
            return dict(calls[0])
        await asyncio.sleep(0.05)
    raise AssertionError("no audit event")


def outcomes(event: dict[str, Any]) -> list[tuple[str, str]]:
    return [(a["model"], a["outcome"]) for a in event["resource"]["attempts"]]


async def test_429_with_retry_after_is_retried(
    gateway: httpx.AsyncClient, bearer: Bearer, providers: dict[str, ScriptedProvider]
) -> None:
    providers["openai"].then("429:0")
    response = await gateway.post(CHAT, json=chat(), headers=bearer())
    assert response.status_code == 200, response.text
    assert response.headers["x-skein-model"] == "gpt-4o-mini"
    assert providers["openai"].models == ["gpt-4o-mini", "gpt-4o-mini"]
    event = await last_event(gateway, bearer)
    assert outcomes(event) == [("gpt-4o-mini", "status_429"), ("gpt-4o-mini", "ok")]
    assert event["served_model"] == "gpt-4o-mini" and "model_fallback" not in event["reasons"]
    metrics = (await gateway.get("/metrics")).text
    assert 'skein_upstream_attempts_total{model="gpt-4o-mini",outcome="status_429"} 1.0' in metrics
    assert 'skein_upstream_attempts_total{model="gpt-4o-mini",outcome="ok"} 1.0' in metrics


async def test_a_long_retry_after_falls_back_at_once(
    gateway: httpx.AsyncClient, bearer: Bearer, providers: dict[str, ScriptedProvider]
) -> None:
    providers["openai"].then("429:3600")  # an hour: not worth waiting for, and not retried
    response = await gateway.post(CHAT, json=chat(), headers=bearer())
    assert response.status_code == 200, response.text
    assert response.headers["x-skein-model"] == "claude-3-5-haiku"
    assert providers["openai"].models == ["gpt-4o-mini"]
    assert providers["anthropic"].models == ["claude-3-5-haiku-latest"]  # the provider's own name


async def test_500s_fall_back_to_the_next_model_policy_allows(
    gateway: httpx.AsyncClient, bearer: Bearer, providers: dict[str, ScriptedProvider]
) -> None:
    providers["openai"].then("500", "500")
    response = await gateway.post(CHAT, json=chat(), headers=bearer(roles=["finance"]))
    assert response.status_code == 200, response.text
    assert response.headers["x-skein-model"] == "claude-3-5-haiku"
    event = await last_event(gateway, bearer)
    assert outcomes(event) == [
        ("gpt-4o-mini", "status_500"),
        ("gpt-4o-mini", "status_500"),
        ("claude-3-5-haiku", "ok"),
    ]
    # finance may not use gpt-4o: policy skipped it, nothing was sent to it
    assert event["resource"]["fallbacks_skipped"] == [{"model": "gpt-4o", "reason": "model_not_allowed"}]
    assert "model_fallback" in event["reasons"]
    assert event["requested_model"] == "gpt-4o-mini" and event["served_model"] == "claude-3-5-haiku"
    assert event["provider"] == "anthropic"


async def test_a_reset_and_a_hang_are_retried(
    gateway: httpx.AsyncClient, bearer: Bearer, providers: dict[str, ScriptedProvider]
) -> None:
    providers["openai"].then("reset")
    response = await gateway.post(CHAT, json=chat(), headers=bearer())
    assert response.status_code == 200, response.text
    assert outcomes(await last_event(gateway, bearer)) == [
        ("gpt-4o-mini", "upstream_reset"),
        ("gpt-4o-mini", "ok"),
    ]
    providers["openai"].then("hang")
    response = await gateway.post(CHAT, json=chat(stream=True), headers=bearer())
    assert response.status_code == 200, response.text
    assert "data: [DONE]" in response.text
    assert providers["openai"].models[-2:] == ["gpt-4o-mini", "gpt-4o-mini"]


async def test_no_retry_once_a_stream_has_started(
    gateway: httpx.AsyncClient, bearer: Bearer, providers: dict[str, ScriptedProvider]
) -> None:
    response = await gateway.post(CHAT, json=chat(text="[[reset-mid]]", stream=True), headers=bearer())
    assert response.status_code == 200  # the head went out; the stream ends early
    assert providers["openai"].models == ["gpt-4o-mini"]
    assert providers["anthropic"].models == []
    event = await last_event(gateway, bearer)
    assert "attempts" not in event["resource"]


async def test_local_only_never_falls_back_to_a_remote_provider(
    gateway: httpx.AsyncClient, bearer: Bearer, providers: dict[str, ScriptedProvider]
) -> None:
    # developer alone may use gpt-4o-mini, but legal is local-only: any role's privacy binds
    providers["ollama"].then("503", "503")
    response = await gateway.post(CHAT, json=chat("llama3.2"), headers=bearer(roles=["legal", "developer"]))
    assert response.status_code == 503
    assert providers["openai"].models == []
    event = await last_event(gateway, bearer)
    assert outcomes(event) == [("llama3.2", "status_503"), ("llama3.2", "status_503")]
    # legal both forbids openai and is local-only: the first reason (by code) is recorded
    assert event["resource"]["fallbacks_skipped"] == [
        {"model": "gpt-4o-mini", "reason": "provider_forbidden"}
    ]
    assert event["served_model"] == "llama3.2"


async def test_when_everything_fails_the_last_failure_is_the_answer(
    gateway: httpx.AsyncClient, bearer: Bearer, providers: dict[str, ScriptedProvider]
) -> None:
    providers["openai"].then("503", "503")
    providers["anthropic"].then("reset", "reset")
    response = await gateway.post(CHAT, json=chat(), headers=bearer())
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_reset"
    event = await last_event(gateway, bearer)
    assert [outcome for _, outcome in outcomes(event)] == [
        "status_503",
        "status_503",
        "upstream_reset",
        "upstream_reset",
    ]


async def test_a_client_error_is_not_retried(
    gateway: httpx.AsyncClient, bearer: Bearer, providers: dict[str, ScriptedProvider]
) -> None:
    providers["openai"].then("400")
    response = await gateway.post(CHAT, json=chat(), headers=bearer())
    assert response.status_code == 400
    assert providers["openai"].models == ["gpt-4o-mini"]
