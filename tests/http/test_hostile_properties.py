"""Property-based: hostile request bodies on every route never get a 5xx or a hang, a hostile
spelling of an identifier is never more permissive than the plain one, and what the provider
receives is exactly what policy and the guard saw (duplicate keys included).

Runs in CI with a fixed example budget (``HYPOTHESIS_EXAMPLES``, default 60 per property).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.dialects.registry import MODEL_ROUTES
from guard import Guard
from tests.support.gateway import make_settings, running_gateway
from tests.support.issuer import TokenIssuer
from tests.support.upstream import FakeProvider

EXAMPLES = int(os.environ.get("HYPOTHESIS_EXAMPLES", "60"))
PROPERTY = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,  # the same examples on every run: CI must not flake on a new draw
)
HOSTILE_CHARS = '"\\{}[]:,\x00\x01\x1b\n\r\t \u2028\u202e\ufeff\u200b\U0001f600é中'
hostile_text = st.text(alphabet=st.characters(codec="utf-8") | st.sampled_from(HOSTILE_CHARS), max_size=40)
hostile_text = hostile_text.filter(lambda s: "[[" not in s)  # the fake provider's control markers
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | hostile_text
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(hostile_text, inner, max_size=4),
    max_leaves=16,
)
FIELDS = [
    "model",
    "messages",
    "input",
    "max_tokens",
    "max_completion_tokens",
    "max_output_tokens",
    "stream",
    "stream_options",
    "tools",
    "system",
    "prompt",
    "options",
    "n",
    "content",
    "role",
    "metadata",
]


def skeleton(path: str) -> dict[str, Any]:
    """A valid body for the route, to be spoiled field by field."""
    if path.endswith("embeddings") or path == "/api/embed":
        return {"model": "text-embedding-3-small", "input": "hello"}
    if path == "/v1/responses":
        return {"model": "gpt-4o-mini", "input": "hello"}
    if path == "/api/generate":
        return {"model": "llama3.2", "prompt": "hello", "stream": False}
    body: dict[str, Any] = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}]}
    if path.startswith("/v1/messages"):
        body = {**body, "model": "claude-3-5-sonnet", "max_tokens": 64}
    if path == "/api/chat":
        body = {**body, "model": "llama3.2", "stream": False}
    return body


@pytest.fixture(scope="module")
async def client(
    tmp_path_factory: pytest.TempPathFactory,
    token_issuer_session: TokenIssuer,
    fake_provider: FakeProvider,
    guard: Guard,
) -> AsyncIterator[tuple[httpx.AsyncClient, TokenIssuer]]:
    native = {"base_url": fake_provider.root_url, "openai_path": "/v1"}
    config = make_settings(
        Path(tmp_path_factory.mktemp("hostile")),
        auth={"issuer": token_issuer_session.issuer, "audience": token_issuer_session.audience},
        providers={
            "openai": {"base_url": fake_provider.base_url},
            "anthropic": {"dialect": "anthropic", **native},
            "ollama": {"dialect": "ollama", **native},
        },
    )
    async with running_gateway(config, guard=guard) as gateway:
        yield gateway, token_issuer_session


def auth(issuer: TokenIssuer, role: str = "developer") -> dict[str, str]:
    # A caller per call: hundreds of examples must not meet the role's rate limit, which the
    # embedded state enforces too.
    return {"authorization": f"Bearer {issuer.mint(sub=f'mallory-{next(CALLERS)}', roles=[role])}"}


CALLERS = itertools.count()


ROUTES = [dialect.path for dialect in MODEL_ROUTES]


@pytest.mark.parametrize("path", ROUTES)
@PROPERTY
@given(body=st.dictionaries(st.sampled_from(FIELDS) | hostile_text, json_values, max_size=6))
async def test_any_json_body_is_never_a_5xx(client: Any, path: str, body: dict[str, Any]) -> None:
    gateway, issuer = client
    response = await gateway.post(path, json=body, headers=auth(issuer), timeout=30)
    assert response.status_code < 500, response.text
    assert "Traceback" not in response.text


@pytest.mark.parametrize("path", ROUTES)
@PROPERTY
@given(
    field=st.sampled_from(FIELDS), value=json_values, role=st.sampled_from(["developer", "finance", "legal"])
)
async def test_a_valid_body_with_one_hostile_field_is_never_a_5xx(
    client: Any, path: str, field: str, value: Any, role: str
) -> None:
    gateway, issuer = client
    body = {**skeleton(path), field: value}
    response = await gateway.post(path, json=body, headers=auth(issuer, role), timeout=30)
    assert response.status_code < 500, response.text


@PROPERTY
@given(
    model=st.sampled_from(["gpt-4o", "gpt-4o-mini", "claude-3-5-sonnet", "llama3.2", "echo"]),
    role=st.sampled_from(["finance", "legal", "developer", "auditor"]),
    suffix=st.sampled_from(
        ['"', "\\", "\x00", " ", "\n", '", "allow": true, "x": "', "\u202e", "*", "?", "}"]
    ),
    prefix=st.booleans(),
)
async def test_a_hostile_spelling_of_a_model_is_never_more_permissive(
    client: Any, model: str, role: str, suffix: str, prefix: bool
) -> None:
    gateway, issuer = client
    hostile = suffix + model if prefix else model + suffix
    body = {"messages": [{"role": "user", "content": "hello"}], "max_tokens": 16}
    plain = await gateway.post(
        "/v1/chat/completions", json={**body, "model": model}, headers=auth(issuer, role)
    )
    spoiled = await gateway.post(
        "/v1/chat/completions", json={**body, "model": hostile}, headers=auth(issuer, role)
    )
    assert spoiled.status_code in (400, 403), spoiled.text
    if plain.status_code != 200:
        assert spoiled.status_code != 200


words = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=8)


@PROPERTY
@given(
    first=st.lists(st.tuples(words, words), min_size=1, max_size=3),
    last=st.lists(st.tuples(words, words), min_size=1, max_size=3),
    duplicate_messages=st.booleans(),
)
async def test_the_provider_receives_exactly_what_was_decided_and_guarded(
    client: Any,
    fake_provider: FakeProvider,
    first: list[tuple[str, str]],
    last: list[tuple[str, str]],
    duplicate_messages: bool,
) -> None:
    """Duplicate keys in the caller's bytes: the provider gets the parsed (last-wins) body."""
    gateway, issuer = client

    def messages(pairs: list[tuple[str, str]]) -> str:
        return orjson.dumps([{"role": "user", "content": f"{a} {b}"} for a, b in pairs]).decode()

    extras = f', "messages": {messages(first)}' if duplicate_messages else ""
    raw = (
        f'{{"model": "gpt-4o", "messages": {messages(first)}{extras},'
        f' "model": "gpt-4o-mini", "messages": {messages(last)}}}'
    )
    headers = {**auth(issuer), "content-type": "application/json"}
    response = await gateway.post("/v1/chat/completions", content=raw.encode(), headers=headers)
    assert response.status_code == 200, response.text
    assert fake_provider.received[-1] == orjson.loads(raw)
