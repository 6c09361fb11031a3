"""The proxy routes in-process: real app and lifespan, real JWT, real Rego, fake provider over HTTP."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest

from guard import Guard
from tests.support.fixtures_gateway import PROVIDER_KEY
from tests.support.issuer import TokenIssuer
from tests.support.upstream import FakeProvider

Bearer = Callable[..., dict[str, str]]
CHAT = "/v1/chat/completions"


def chat(model: str = "gpt-4o-mini", text: str = "hello", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": text}], **extra}


async def test_allowed_call_is_forwarded_with_headers(
    gateway: httpx.AsyncClient, bearer: Bearer, fake_provider: FakeProvider
) -> None:
    response = await gateway.post(CHAT, json=chat(), headers=bearer())
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == "Hello from the fake provider."
    for header in ("x-skein-request-id", "x-skein-decision-id", "x-skein-model", "x-skein-overhead-ms"):
        assert response.headers[header]
    assert response.headers["x-skein-model"] == "gpt-4o-mini"
    # the caller's token never reaches the provider: the provider's own key replaces it
    assert fake_provider.headers[-1]["Authorization"] == f"Bearer {PROVIDER_KEY}"


async def test_model_not_allowed_for_role_is_403_with_reasons(
    gateway: httpx.AsyncClient, bearer: Bearer
) -> None:
    response = await gateway.post(CHAT, json=chat(model="gpt-4o"), headers=bearer(roles=["finance"]))
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "model_not_allowed"
    assert error["type"] == "permission_error"
    assert error["reasons"][0]["code"] == "model_not_allowed"
    assert "gpt-4o" in error["message"]
    assert response.headers["x-skein-decision-id"]


async def test_unknown_role_is_refused(gateway: httpx.AsyncClient, bearer: Bearer) -> None:
    response = await gateway.post(CHAT, json=chat(), headers=bearer(roles=["astronaut"]))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "unknown_role"


async def test_unknown_model_is_refused(gateway: httpx.AsyncClient, bearer: Bearer) -> None:
    response = await gateway.post(CHAT, json=chat(model="gpt-9-ultra"), headers=bearer(roles=["developer"]))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "unknown_model"


async def test_max_tokens_cap(gateway: httpx.AsyncClient, bearer: Bearer) -> None:
    response = await gateway.post(CHAT, json=chat(max_tokens=10_000_000), headers=bearer())
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "max_tokens_exceeded"


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing_credentials"),
        ({"authorization": "Bearer not.a.jwt"}, "malformed_token"),
        ({"authorization": "Basic dXNlcjpwYXNz"}, "missing_credentials"),
    ],
)
async def test_bad_credentials_are_401_with_challenge(
    gateway: httpx.AsyncClient, headers: dict[str, str], reason: str
) -> None:
    response = await gateway.post(CHAT, json=chat(), headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer ")
    assert response.json()["error"]["type"] == "authentication_error"


@pytest.mark.parametrize(
    "make_token",
    [
        lambda i: i.token_alg_none(sub="alice", roles=["finance"]),
        lambda i: i.token_hs256_with_public_key(sub="alice", roles=["finance"]),
        lambda i: i.token_unknown_key(sub="alice", roles=["finance"]),
        lambda i: i.token_expired(sub="alice", roles=["finance"]),
        lambda i: i.token_wrong_audience(sub="alice", roles=["finance"]),
    ],
    ids=["alg-none", "hs256-with-public-key", "unknown-key", "expired", "wrong-audience"],
)
async def test_bad_tokens_are_refused(
    gateway: httpx.AsyncClient, token_issuer: TokenIssuer, make_token: Callable[[TokenIssuer], str]
) -> None:
    response = await gateway.post(
        CHAT, json=chat(), headers={"authorization": f"Bearer {make_token(token_issuer)}"}
    )
    assert response.status_code == 401, response.text


async def test_malformed_json_is_400(gateway: httpx.AsyncClient, bearer: Bearer) -> None:
    response = await gateway.post(
        CHAT,
        content=b'{"model": "gpt-4o-mini", "messages": [',
        headers={**bearer(), "content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"


async def test_missing_model_is_400(gateway: httpx.AsyncClient, bearer: Bearer) -> None:
    response = await gateway.post(
        CHAT, json={"messages": [{"role": "user", "content": "x"}]}, headers=bearer()
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "missing_model"


async def test_wrong_content_type_is_415(gateway: httpx.AsyncClient, bearer: Bearer) -> None:
    response = await gateway.post(
        CHAT, content=b"model=x", headers={**bearer(), "content-type": "text/plain"}
    )
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_content_type"


async def test_huge_body_is_413(gateway: httpx.AsyncClient, bearer: Bearer) -> None:
    body = orjson.dumps(chat(text="x" * (5 * 1024 * 1024)))
    response = await gateway.post(
        CHAT, content=body, headers={**bearer(), "content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"


@pytest.mark.parametrize(
    ("marker", "status", "reason"),
    [("[[reset]]", 502, "upstream_reset"), ("[[slow:3]]", 504, "upstream_timeout")],
)
async def test_upstream_failures_are_translated(
    gateway_settings: Any, guard: Guard, bearer: Bearer, marker: str, status: int, reason: str
) -> None:
    from tests.support.gateway import running_gateway

    providers = {
        n: p.model_copy(update={"read_timeout_seconds": 0.5}) for n, p in gateway_settings.providers.items()
    }
    settings = gateway_settings.model_copy(update={"providers": providers})
    async with running_gateway(settings, guard) as client:
        response = await client.post(CHAT, json=chat(text=marker), headers=bearer())
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == reason


async def test_upstream_unreachable_is_502(gateway_settings: Any, guard: Guard, bearer: Bearer) -> None:
    from tests.support.gateway import running_gateway

    providers = {
        n: p.model_copy(update={"base_url": "http://127.0.0.1:9/v1"})
        for n, p in gateway_settings.providers.items()
    }
    async with running_gateway(gateway_settings.model_copy(update={"providers": providers}), guard) as client:
        response = await client.post(CHAT, json=chat(), headers=bearer())
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_unreachable"


async def test_provider_error_status_passes_through(gateway: httpx.AsyncClient, bearer: Bearer) -> None:
    response = await gateway.post(CHAT, json=chat(text="[[status:429]]"), headers=bearer())
    assert response.status_code == 429
    assert "fake provider error" in response.json()["error"]["message"]


async def test_streaming_relays_events_and_strips_injected_usage(
    gateway: httpx.AsyncClient, bearer: Bearer, fake_provider: FakeProvider
) -> None:
    response = await gateway.post(CHAT, json=chat(stream=True), headers=bearer())
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [line[6:] for line in response.text.split("\n") if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    assert not any('"usage"' in e for e in events)  # the caller did not ask for it
    assert fake_provider.received[-1]["stream_options"] == {"include_usage": True}
    text = "".join(orjson.loads(e)["choices"][0]["delta"].get("content", "") for e in events[:-1])
    assert text.strip() == "Hello from the fake provider."


async def test_streaming_keeps_usage_when_client_asked(gateway: httpx.AsyncClient, bearer: Bearer) -> None:
    body = chat(stream=True, stream_options={"include_usage": True})
    response = await gateway.post(CHAT, json=body, headers=bearer())
    assert '"usage"' in response.text


async def test_models_list_only_shows_what_the_role_may_use(
    gateway: httpx.AsyncClient, bearer: Bearer
) -> None:
    response = await gateway.get("/v1/models", headers=bearer(roles=["finance"]))
    assert response.status_code == 200
    ids = {m["id"] for m in response.json()["data"]}
    assert "gpt-4o-mini" in ids and "echo" in ids
    assert "gpt-4o" not in ids


async def test_embeddings(gateway: httpx.AsyncClient, bearer: Bearer) -> None:
    body = {"model": "text-embedding-3-small", "input": ["quarterly numbers"]}
    response = await gateway.post("/v1/embeddings", json=body, headers=bearer(roles=["finance"]))
    assert response.status_code == 200, response.text
    assert len(response.json()["data"]) == 1


async def test_unknown_route_and_method_are_json_errors(gateway: httpx.AsyncClient) -> None:
    missing = await gateway.get("/v1/nope")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    wrong = await gateway.get(CHAT)
    assert wrong.status_code == 405 and wrong.json()["error"]["code"] == "method_not_allowed"


async def test_health_ready_and_metrics(gateway: httpx.AsyncClient, bearer: Bearer) -> None:
    assert (await gateway.get("/healthz")).json() == {"status": "ok"}
    ready = await gateway.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["bundle"]["revision"]
    await gateway.post(CHAT, json=chat(model="gpt-4o"), headers=bearer())
    metrics = (await gateway.get("/metrics")).text
    assert "skein_requests_total{" in metrics
    assert 'reason="model_not_allowed"' in metrics
