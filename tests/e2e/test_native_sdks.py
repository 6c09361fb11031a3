"""End to end: ``skein serve`` as a subprocess, driven by the official ``anthropic`` SDK, the
``ollama`` client and the ``openai`` SDK's Responses API, against a fake provider speaking
each dialect: allow and deny, streaming and not, PII masked on the way out and restored on the
way back, usage accounted, every call audited."""

from __future__ import annotations

import shutil
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import ollama
import openai
import orjson
import pytest

from tests.support.issuer import TokenIssuer
from tests.support.server import REPO, serve
from tests.support.upstream import FakeProvider

pytestmark = pytest.mark.e2e

EMAIL, NAME = "maria.gonzalez@example.com", "Maria Gonzalez"
SECRET = f"Please email {NAME} at {EMAIL} today. [[echo]]"

# A role for these tests only: pseudonymize (so answers are restored) on every provider.
TESTER = """
role: tester
display_name: Dialect tester
models: {allowed: [gpt-4o-mini, claude-3-5-*, llama3.2, text-embedding-3-small, echo], max_tokens: 4096}
privacy: {mode: pseudonymize, entities: [PERSON, EMAIL_ADDRESS, US_SSN]}
"""


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, token_issuer_session: TokenIssuer, fake_provider: FakeProvider
) -> Iterator[tuple[str, Path, TokenIssuer]]:
    tmp = tmp_path_factory.mktemp("native")
    profiles = tmp / "bundles"
    shutil.copytree(REPO / "bundles", profiles)
    (profiles / "profiles" / "tester.yaml").write_text(TESTER)
    native = {"base_url": fake_provider.root_url, "openai_path": "/v1"}
    config = {
        "state_dir": tmp / "state",
        "bundle": {"policies_dir": REPO / "policies", "profiles_dir": profiles, "verify": False},
        "auth": {"issuer": token_issuer_session.issuer, "audience": token_issuer_session.audience},
        "providers": {
            "openai": {"base_url": fake_provider.base_url},
            "anthropic": {"dialect": "anthropic", **native},
            "ollama": {"dialect": "ollama", **native},
        },
        "guard": {"executor": "thread", "workers": 1},
    }
    with serve(config, tmp) as base:
        yield base, tmp, token_issuer_session


def token(server: tuple[str, Path, TokenIssuer], roles: list[str]) -> str:
    return server[2].mint(sub="alice", roles=roles)


def claude(server: tuple[str, Path, TokenIssuer], roles: list[str]) -> anthropic.Anthropic:
    # api_key goes out as x-api-key, as with Anthropic's own API.
    return anthropic.Anthropic(base_url=server[0], api_key=token(server, roles), max_retries=0)


def local(server: tuple[str, Path, TokenIssuer], roles: list[str]) -> ollama.Client:
    return ollama.Client(host=server[0], headers={"Authorization": f"Bearer {token(server, roles)}"})


def gpt(server: tuple[str, Path, TokenIssuer], roles: list[str]) -> openai.OpenAI:
    return openai.OpenAI(base_url=server[0] + "/v1", api_key=token(server, roles), max_retries=0)


def sent(fake: FakeProvider) -> str:
    return orjson.dumps(fake.received[-1]).decode()


def audit_rows(server: tuple[str, Path, TokenIssuer], route: str) -> list[dict[str, Any]]:
    with sqlite3.connect(server[1] / "state" / "audit.db") as db:
        rows = db.execute("SELECT event FROM audit_events ORDER BY pos").fetchall()
    events = [orjson.loads(row[0]) for row in rows]
    return [event for event in events if event["route"] == route]


# -- Anthropic Messages -------------------------------------------------------------------


def test_anthropic_message_masked_out_and_restored_back(server: Any, fake_provider: FakeProvider) -> None:
    reply = claude(server, ["tester"]).messages.create(
        model="claude-3-5-sonnet",
        max_tokens=256,
        system=f"You help {NAME}.",
        messages=[{"role": "user", "content": SECRET}],
    )
    upstream = sent(fake_provider)
    assert EMAIL not in upstream and NAME not in upstream and "EMAIL_ADDRESS_v1_" in upstream
    assert fake_provider.received[-1]["model"] == "claude-3-5-sonnet-latest"  # the provider's own name
    assert fake_provider.headers[-1].get("anthropic-version")
    assert (
        reply.content[0].type == "text" and EMAIL in reply.content[0].text and NAME in reply.content[0].text
    )
    assert reply.usage.input_tokens == 11


def test_anthropic_stream_restores_split_pseudonyms(server: Any) -> None:
    with claude(server, ["tester"]).messages.stream(
        model="claude-3-5-haiku", max_tokens=256, messages=[{"role": "user", "content": SECRET}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert EMAIL in text and NAME in text and "_v1_" not in text
    assert final.usage.output_tokens == 7


def test_anthropic_tool_use_input_is_restored(server: Any) -> None:
    reply = claude(server, ["tester"]).messages.create(
        model="claude-3-5-sonnet",
        max_tokens=64,
        tools=[{"name": "lookup", "description": "find a person", "input_schema": {"type": "object"}}],
        messages=[{"role": "user", "content": f"find {EMAIL} [[tool]]"}],
    )
    block = reply.content[0]
    assert block.type == "tool_use" and EMAIL in block.input["query"]


def test_anthropic_denial_is_an_anthropic_error_with_the_reason(server: Any) -> None:
    with pytest.raises(anthropic.PermissionDeniedError) as err:
        claude(server, ["legal"]).messages.create(
            model="claude-3-5-sonnet", max_tokens=16, messages=[{"role": "user", "content": "hi"}]
        )
    body = err.value.body
    assert isinstance(body, dict) and body["error"]["type"] == "permission_error"
    assert body["error"]["code"] in {"model_not_allowed", "provider_forbidden", "provider_not_local"}


def test_anthropic_bad_request_names_the_field(server: Any) -> None:
    with pytest.raises(anthropic.BadRequestError) as err:
        claude(server, ["tester"]).messages.create(
            model="claude-3-5-sonnet", max_tokens=0, messages=[{"role": "user", "content": "hi"}]
        )
    assert isinstance(err.value.body, dict) and err.value.body["error"]["param"] == "max_tokens"


def test_anthropic_count_tokens_and_models(server: Any, fake_provider: FakeProvider) -> None:
    client = claude(server, ["tester"])
    counted = client.messages.count_tokens(
        model="claude-3-5-sonnet", messages=[{"role": "user", "content": SECRET}]
    )
    assert counted.input_tokens > 0
    assert EMAIL not in sent(fake_provider)  # counting still sends the text: guarded
    ids = {m.id for m in client.models.list()}
    assert "claude-3-5-sonnet" in ids and "gpt-4o" not in ids


# -- Ollama -------------------------------------------------------------------------------


def test_ollama_chat_masked_and_restored(server: Any, fake_provider: FakeProvider) -> None:
    reply = local(server, ["tester"]).chat(model="llama3.2", messages=[{"role": "user", "content": SECRET}])
    assert EMAIL not in sent(fake_provider)
    assert fake_provider.received[-1]["stream"] is False
    assert reply.message.content is not None and EMAIL in reply.message.content
    assert reply.eval_count == 6


def test_ollama_chat_and_generate_stream(server: Any) -> None:
    client = local(server, ["tester"])
    chunks = list(client.chat(model="llama3.2", messages=[{"role": "user", "content": SECRET}], stream=True))
    text = "".join(c.message.content or "" for c in chunks)
    assert EMAIL in text and NAME in text and "_v1_" not in text and chunks[-1].done
    generated = "".join(p.response for p in client.generate(model="llama3.2", prompt=SECRET, stream=True))
    assert EMAIL in generated and "_v1_" not in generated


def test_ollama_embed_tags_and_denial(server: Any) -> None:
    client = local(server, ["tester"])
    assert len(client.embed(model="llama3.2", input=["a", "b"]).embeddings) == 2
    names = {m.model for m in client.list().models}
    assert "llama3.2" in names and "gpt-4o" not in names
    with pytest.raises(ollama.ResponseError) as err:
        local(server, ["finance"]).chat(model="llama3.2", messages=[{"role": "user", "content": "hi"}])
    assert err.value.status_code == 403 and "llama3.2" in err.value.error


def test_ollama_num_predict_unlimited_is_held_to_the_cap(server: Any) -> None:
    with pytest.raises(ollama.ResponseError) as err:
        local(server, ["tester"]).chat(
            model="llama3.2", messages=[{"role": "user", "content": "hi"}], options={"num_predict": -1}
        )
    assert err.value.status_code == 403 and "max_tokens" in err.value.error


# -- OpenAI Responses ---------------------------------------------------------------------


def test_responses_masked_and_restored(server: Any, fake_provider: FakeProvider) -> None:
    reply = gpt(server, ["tester"]).responses.create(model="gpt-4o-mini", input=SECRET)
    assert EMAIL not in sent(fake_provider)
    assert EMAIL in reply.output_text and NAME in reply.output_text
    assert reply.usage is not None and reply.usage.output_tokens == 5


def test_responses_stream_and_item_input(server: Any) -> None:
    stream = gpt(server, ["tester"]).responses.create(
        model="gpt-4o-mini",
        input=[{"role": "user", "content": [{"type": "input_text", "text": SECRET}]}],
        stream=True,
    )
    text = "".join(event.delta for event in stream if event.type == "response.output_text.delta")
    assert EMAIL in text and "_v1_" not in text


def test_responses_denial(server: Any) -> None:
    with pytest.raises(openai.PermissionDeniedError) as err:
        gpt(server, ["finance"]).responses.create(model="gpt-4o", input="hi")
    assert err.value.code == "model_not_allowed"


def test_every_native_call_is_audited_with_usage(server: Any) -> None:
    claude(server, ["tester"]).messages.create(
        model="claude-3-5-sonnet", max_tokens=16, messages=[{"role": "user", "content": "audited"}]
    )
    with pytest.raises(anthropic.PermissionDeniedError):
        claude(server, ["legal"]).messages.create(
            model="claude-3-5-sonnet", max_tokens=16, messages=[{"role": "user", "content": "hi"}]
        )
    local(server, ["tester"]).chat(model="llama3.2", messages=[{"role": "user", "content": "hi"}])
    deadline = time.monotonic() + 30  # the audit writer batches: give it time on a busy machine
    while time.monotonic() < deadline:
        rows = audit_rows(server, "/v1/messages")
        if any(row["status"] == 403 for row in rows) and audit_rows(server, "/api/chat"):
            break
        time.sleep(0.2)
    allowed = [row for row in rows if row["allow"]]
    assert allowed and allowed[-1]["tokens_in"] == 11 and allowed[-1]["tokens_out"] == 7
    assert any(not row["allow"] and row["status"] == 403 for row in rows)
