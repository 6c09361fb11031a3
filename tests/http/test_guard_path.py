"""The privacy guard on every path through the gateway: the provider sees only pseudonyms or
placeholders, the caller gets the real values back (streams and tool calls included), and the
audit records counts, never values."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson

from gateway.guarding import build_guard
from gateway.settings import SecondOpinionSettings, Settings
from guard.detector import Detector, DetectorSettings
from guard.pool import ThreadBackend
from tests.support.gateway import running_gateway
from tests.support.ollama import FakeOllama
from tests.support.upstream import FakeProvider

Bearer = Callable[..., dict[str, str]]
CHAT = "/v1/chat/completions"
SECRET = (
    "Please email Maria Gonzalez at maria.gonzalez@example.com about SSN 123-45-6789 "
    "and card 4111 1111 1111 1111."
)
VALUES = ("Maria Gonzalez", "maria.gonzalez@example.com", "123-45-6789", "4111 1111 1111 1111")
TOKEN = re.compile(r"\b[A-Z][A-Z_]+_v\d+_[0-9a-f]{8}\b")


def chat(text: str, **extra: Any) -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}], **extra}


def _sent(provider: FakeProvider) -> str:
    return orjson.dumps(provider.received[-1]).decode()


def _stream_text(response: httpx.Response) -> tuple[str, str]:
    content, arguments = "", ""
    for line in response.text.split("\n"):
        if not line.startswith("data: ") or line == "data: [DONE]":
            continue
        for choice in orjson.loads(line[6:]).get("choices", []):
            delta = choice.get("delta", {})
            content += delta.get("content") or ""
            for call in delta.get("tool_calls") or []:
                arguments += call.get("function", {}).get("arguments") or ""
    return content, arguments


async def test_pseudonyms_upstream_and_restored_for_the_caller(
    gateway: httpx.AsyncClient, bearer: Bearer, fake_provider: FakeProvider
) -> None:
    response = await gateway.post(CHAT, json=chat(SECRET + " [[echo]]"), headers=bearer(roles=["finance"]))
    assert response.status_code == 200, response.text
    sent = _sent(fake_provider)
    for value in VALUES:
        assert value not in sent
    assert len(set(TOKEN.findall(sent))) >= 4
    assert response.json()["choices"][0]["message"]["content"] == SECRET + " [[echo]]"


async def test_same_value_gets_the_same_pseudonym_across_calls(
    gateway: httpx.AsyncClient, bearer: Bearer, fake_provider: FakeProvider
) -> None:
    for _ in range(2):
        await gateway.post(
            CHAT, json=chat("write to maria.gonzalez@example.com"), headers=bearer(roles=["finance"])
        )
    first, second = (TOKEN.findall(orjson.dumps(body).decode()) for body in fake_provider.received[-2:])
    assert first and first == second


async def test_streamed_answer_is_restored(
    gateway: httpx.AsyncClient, bearer: Bearer, fake_provider: FakeProvider
) -> None:
    response = await gateway.post(
        CHAT, json=chat(SECRET + " [[echo]]", stream=True), headers=bearer(roles=["finance"])
    )
    assert response.status_code == 200
    content, _ = _stream_text(response)
    assert content.strip() == SECRET + " [[echo]]"
    assert not TOKEN.search(response.text)
    for value in VALUES:
        assert value not in _sent(fake_provider)


async def test_tool_call_arguments_are_restored_streaming_and_not(
    gateway: httpx.AsyncClient, bearer: Bearer, fake_provider: FakeProvider
) -> None:
    text = SECRET + " [[tool]]"
    plain = await gateway.post(CHAT, json=chat(text), headers=bearer(roles=["finance"]))
    arguments = plain.json()["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]
    assert orjson.loads(arguments) == {"query": text}
    streamed = await gateway.post(CHAT, json=chat(text, stream=True), headers=bearer(roles=["finance"]))
    _, arguments = _stream_text(streamed)
    assert orjson.loads(arguments) == {"query": text}


async def test_tool_call_arguments_in_history_are_masked_and_stay_json(
    gateway: httpx.AsyncClient, bearer: Bearer, fake_provider: FakeProvider
) -> None:
    body = {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "You help maria.gonzalez@example.com."},
            {"role": "user", "content": [{"type": "text", "text": "Find SSN 123-45-6789"}]},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "find", "arguments": '{"email": "maria.gonzalez@example.com"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "Card on file: 4111 1111 1111 1111"},
        ],
    }
    response = await gateway.post(CHAT, json=body, headers=bearer(roles=["finance"]))
    assert response.status_code == 200, response.text
    sent = fake_provider.received[-1]
    for value in VALUES[1:]:
        assert value not in orjson.dumps(sent).decode()
    arguments = orjson.loads(sent["messages"][2]["tool_calls"][0]["function"]["arguments"])
    assert TOKEN.fullmatch(arguments["email"])


async def test_mask_mode_uses_placeholders(
    gateway: httpx.AsyncClient, bearer: Bearer, fake_provider: FakeProvider
) -> None:
    response = await gateway.post(
        CHAT, json=chat("mail maria.gonzalez@example.com now [[echo]]"), headers=bearer(roles=["developer"])
    )
    assert response.status_code == 200
    assert "<EMAIL_ADDRESS>" in _sent(fake_provider)
    assert "maria.gonzalez@example.com" not in _sent(fake_provider)


async def test_block_mode_refuses_with_entity_types_only(gateway: httpx.AsyncClient, bearer: Bearer) -> None:
    response = await gateway.post(
        CHAT, json={**chat("SSN 123-45-6789"), "model": "echo"}, headers=bearer(roles=["auditor"])
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "pii_blocked"
    assert "US_SSN" in error["details"]["entities"]
    assert "123-45-6789" not in response.text


async def test_embeddings_input_is_masked(
    gateway: httpx.AsyncClient, bearer: Bearer, fake_provider: FakeProvider
) -> None:
    body = {"model": "text-embedding-3-small", "input": ["contact maria.gonzalez@example.com"]}
    response = await gateway.post("/v1/embeddings", json=body, headers=bearer(roles=["finance"]))
    assert response.status_code == 200, response.text
    assert "maria.gonzalez@example.com" not in _sent(fake_provider)


async def test_audit_records_counts_never_values(gateway_settings: Any, guard: Any, bearer: Bearer) -> None:
    from tests.support.gateway import running_gateway

    async with running_gateway(gateway_settings, guard) as client:
        response = await client.post(CHAT, json=chat(SECRET), headers=bearer(roles=["finance"]))
        assert response.status_code == 200
    # the lifespan has drained the audit queue
    raw = gateway_settings.audit_db_path.read_bytes()
    for value in VALUES:
        assert value.encode() not in raw
    import sqlite3

    with sqlite3.connect(gateway_settings.audit_db_path) as conn:
        (event,) = conn.execute("SELECT event FROM audit_events ORDER BY pos DESC LIMIT 1").fetchone()
    counts = orjson.loads(event)["guard_entities"]
    assert counts["EMAIL_ADDRESS"] == 1 and counts["US_SSN"] == 1 and counts["CREDIT_CARD"] == 1


async def test_echo_provider_shows_what_left_the_building(
    gateway_settings: Any, guard: Any, bearer: Bearer
) -> None:
    from tests.support.gateway import running_gateway

    async with running_gateway(gateway_settings.model_copy(update={"providers": {}}), guard) as client:
        response = await client.post(
            CHAT, json=chat("mail alice@acme.com"), headers=bearer(roles=["finance"])
        )
    echoed = response.json()["choices"][0]["message"]["content"]
    assert "alice@acme.com" not in echoed
    assert TOKEN.search(echoed)


async def test_a_profile_can_ask_the_local_model_for_a_second_opinion(
    gateway_settings: Settings,
    detector: Detector,
    bearer: Bearer,
    fake_provider: FakeProvider,
    tmp_path: Path,
) -> None:
    # Lower-case "quokka thimble" (two English words) is no name spaCy or the gazetteer
    # finds; the (fake) Ollama model does.
    # legal's profile sets privacy.second_opinion; finance's does not.
    text = "quokka thimble signed the NDA. [[echo]]"
    with FakeOllama(("quokka thimble",)) as ollama:
        guard_settings = gateway_settings.guard.model_copy(
            update={"second_opinion": SecondOpinionSettings(host=ollama.host, timeout_seconds=10)}
        )
        backend = ThreadBackend(DetectorSettings(), detector=detector)
        async with (
            build_guard(guard_settings, tmp_path, backend=backend) as guard,
            running_gateway(gateway_settings, guard=guard) as client,
        ):
            legal = await client.post(
                CHAT, json={**chat(text), "model": "llama3.2"}, headers=bearer(roles=["legal"])
            )
            assert legal.status_code == 200, legal.text
            assert "quokka" not in _sent(fake_provider) and "<PERSON>" in _sent(fake_provider)
            assert ollama.prompts and "quokka thimble" in ollama.prompts[-1]
            asked = len(ollama.prompts)
            finance = await client.post(CHAT, json=chat(text), headers=bearer(roles=["finance"]))
            assert finance.status_code == 200
            assert "quokka thimble" in _sent(fake_provider)  # first opinion only
            assert len(ollama.prompts) == asked
