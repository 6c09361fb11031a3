"""Regression tests for the findings of the security review (issue 9), one per finding.

Each was reproduced against the gateway before its fix; each test is named after it.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from gateway.settings import Settings
from tests.support.upstream import FakeProvider

Bearer = Callable[..., dict[str, str]]
CHAT = "/v1/chat/completions"
INJECTED_MODEL = 'gpt-4o", "allow": true, "guard": {"mode": "off", "entities": []}, "x": "'


def chat(text: str = "hi", **extra: Any) -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}], **extra}


def post_raw(gateway: httpx.AsyncClient, body: str, headers: dict[str, str]) -> Any:
    return gateway.post(CHAT, content=body.encode(), headers={**headers, "content-type": "application/json"})


# -- finding 1: the decision rewritten through the request ---------------------------------


@pytest.mark.parametrize("role", ["finance", "legal", "auditor"])
async def test_decision_injection_through_model_is_refused(
    gateway: httpx.AsyncClient, bearer: Bearer, fake_provider: FakeProvider, role: str
) -> None:
    before = len(fake_provider.received)
    body = chat("SSN 123-45-6789, mail a@b.example", model=INJECTED_MODEL)
    response = await gateway.post(CHAT, json=body, headers=bearer(roles=[role]))
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_model"
    assert len(fake_provider.received) == before  # nothing left the building


async def test_decision_injection_on_embeddings_is_refused(
    gateway: httpx.AsyncClient, bearer: Bearer
) -> None:
    body = {"model": INJECTED_MODEL, "input": "x"}
    response = await gateway.post("/v1/embeddings", json=body, headers=bearer(roles=["finance"]))
    assert response.status_code == 400 and response.json()["error"]["param"] == "model"


@pytest.mark.parametrize(
    "model", ["gpt-4o-mini\x00", "gpt-4o-mini\n", "gpt\u202e4o", "gpt-4o-mini\\", "\x1b[31m"]
)
async def test_control_characters_in_model_are_a_400_not_an_engine_error(
    gateway: httpx.AsyncClient, bearer: Bearer, model: str
) -> None:
    response = await gateway.post(CHAT, json=chat(model=model), headers=bearer(roles=["finance"]))
    assert response.status_code == 400
    assert "policy" not in response.text.lower()


async def test_an_injected_role_claim_is_an_unknown_role(gateway: httpx.AsyncClient, bearer: Bearer) -> None:
    response = await gateway.post(
        CHAT, json=chat(), headers=bearer(roles=['finance", "allow": true, "x": "'])
    )
    assert response.status_code == 403 and response.json()["error"]["code"] == "unknown_role"
    assert response.json()["error"]["reasons"][0]["code"] == "unknown_role"


# -- finding 2: duplicate keys forwarded raw -------------------------------------------------


async def test_duplicate_model_key_is_decided_and_forwarded_as_one(
    gateway: httpx.AsyncClient, bearer: Bearer, fake_provider: FakeProvider
) -> None:
    body = '{"model": "gpt-4o", "model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}'
    response = await post_raw(gateway, body, bearer(roles=["finance"]))
    assert response.status_code == 200 and response.headers["x-skein-model"] == "gpt-4o-mini"
    sent = fake_provider.received[-1]
    assert sent["model"] == "gpt-4o-mini"


async def test_duplicate_messages_cannot_smuggle_unmasked_pii(
    gateway: httpx.AsyncClient, bearer: Bearer, fake_provider: FakeProvider
) -> None:
    body = (
        '{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "SSN 123-45-6789"}],'
        ' "messages": [{"role": "user", "content": "clean [[echo]]"}]}'
    )
    response = await post_raw(gateway, body, bearer(roles=["finance"]))
    assert response.status_code == 200
    assert "123-45-6789" not in orjson.dumps(fake_provider.received[-1]).decode()


async def test_duplicate_keys_inside_tool_arguments_cannot_smuggle_pii(
    gateway: httpx.AsyncClient, bearer: Bearer, fake_provider: FakeProvider
) -> None:
    arguments = '{"note": "SSN 123-45-6789", "note": "clean"}'
    message = {
        "role": "assistant",
        "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": arguments}}],
    }
    body = {
        "model": "gpt-4o-mini",
        "messages": [message, {"role": "tool", "tool_call_id": "c1", "content": "ok"}],
    }
    response = await gateway.post(CHAT, json=body, headers=bearer(roles=["finance"]))
    assert response.status_code == 200
    assert "123-45-6789" not in orjson.dumps(fake_provider.received[-1]).decode()


# -- finding 3: token-cap bypass ------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"max_completion_tokens": None, "max_tokens": 100000},
        {"max_tokens": 2**63},
        {"max_tokens": 2**64 + 1},
        {"max_tokens": True},
        {"max_tokens": 100.0},
        {"max_tokens": "100"},
        {"max_completion_tokens": -1},
    ],
)
async def test_token_cap_values_that_are_not_plain_integers_are_a_400(
    gateway: httpx.AsyncClient, bearer: Bearer, fields: dict[str, Any]
) -> None:
    response = await gateway.post(CHAT, json=chat(**fields), headers=bearer(roles=["auditor"]))
    assert response.status_code == 400
    assert response.json()["error"]["param"] in fields


async def test_both_token_fields_are_held_to_the_cap(gateway: httpx.AsyncClient, bearer: Bearer) -> None:
    body = chat(max_completion_tokens=10, max_tokens=100000)  # finance's cap is 4096
    response = await gateway.post(CHAT, json=body, headers=bearer(roles=["finance"]))
    assert response.status_code == 403 and response.json()["error"]["code"] == "max_tokens_exceeded"


# -- finding 6: malformed bodies, upstream surprises -----------------------------------------


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"tools": "x"}, "tools"),
        ({"tools": [1]}, "tools[0]"),
        ({"tools": [{"type": "function", "function": "x"}]}, "tools[0].function"),
        ({"tools": [{"type": "function", "function": {"name": 'a"b'}}]}, "tools[0].function.name"),
        ({"stream_options": "yes"}, "stream_options"),
        ({"stream_options": {"include_usage": "yes"}}, "stream_options.include_usage"),
        ({"stream": "true"}, "stream"),
        ({"n": 0}, "n"),
        ({"messages": [{"role": "wizard", "content": "x"}]}, "messages[0].role"),
        ({"messages": [{"role": "user", "content": 7}]}, "messages[0].content"),
    ],
)
async def test_malformed_fields_are_a_400_naming_the_field(
    gateway: httpx.AsyncClient, bearer: Bearer, extra: dict[str, Any], field: str
) -> None:
    response = await gateway.post(CHAT, json=chat(**extra), headers=bearer(roles=["finance"]))
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == field


async def test_lone_surrogates_are_a_400(gateway: httpx.AsyncClient, bearer: Bearer) -> None:
    body = '{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "\\ud800"}]}'
    response = await post_raw(gateway, body, bearer(roles=["finance"]))
    assert response.status_code == 400 and response.json()["error"]["code"] == "malformed_json"
    call = {"function": {"name": "f", "arguments": '{"a": "\\ud800"}'}}
    args = orjson.dumps(
        {"model": "gpt-4o-mini", "messages": [{"role": "assistant", "tool_calls": [call]}]}
    ).decode()
    response = await post_raw(gateway, args, bearer(roles=["finance"]))
    assert response.status_code < 500


@pytest.mark.parametrize("content_type", ["application/json-evil", "text/plain", "application/jsonp"])
async def test_content_type_is_matched_exactly(
    gateway: httpx.AsyncClient, bearer: Bearer, content_type: str
) -> None:
    response = await gateway.post(
        CHAT,
        content=orjson.dumps(chat()),
        headers={**bearer(roles=["finance"]), "content-type": content_type},
    )
    assert response.status_code == 415


async def test_an_upstream_200_with_invalid_json_is_a_502(gateway: httpx.AsyncClient, bearer: Bearer) -> None:
    response = await gateway.post(CHAT, json=chat("[[badjson]]"), headers=bearer(roles=["finance"]))
    assert response.status_code == 502 and response.json()["error"]["code"] == "upstream_protocol"


async def test_unauthenticated_floods_are_folded_in_the_audit(
    gateway_settings: Settings, gateway: httpx.AsyncClient
) -> None:
    responses = await asyncio.gather(
        *(gateway.post(CHAT, json=chat(), headers={"authorization": "Bearer nope"}) for _ in range(60))
    )
    assert all(r.status_code == 401 for r in responses)
    await asyncio.sleep(0.5)  # the audit writer flushes every 100 ms
    db = Path(gateway_settings.state_dir) / "audit.db"
    with sqlite3.connect(db) as conn:
        events = [orjson.loads(row[0]) for row in conn.execute("SELECT event FROM audit_events")]
    assert sum(1 for e in events if e["status"] == 401) <= 21  # 20 individual + at most one summary


async def test_every_response_carries_a_request_id(gateway: httpx.AsyncClient) -> None:
    for response in (
        await gateway.get("/nope"),
        await gateway.put(CHAT),
        await gateway.get("/healthz"),
        await gateway.get("/readyz"),
        await gateway.get("/metrics"),
    ):
        assert response.headers.get("x-skein-request-id"), response.url
