from __future__ import annotations

import orjson
import pytest

from gateway.adapters import openai as dialect
from gateway.domain import Usage
from gateway.errors import BadRequest


def test_parse_json_rejects_garbage_and_non_objects() -> None:
    with pytest.raises(BadRequest) as err:
        dialect.parse_json(b"{not json")
    assert err.value.reason == "malformed_json"
    with pytest.raises(BadRequest):
        dialect.parse_json(b"[1, 2]")


def test_chat_view_reads_the_neutral_fields() -> None:
    body = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
        "max_tokens": 64,
        "tools": [{"type": "function", "function": {"name": "lookup"}}],
    }
    view = dialect.chat_view(body, 400)
    assert (view.action, view.model, view.stream, view.max_tokens) == ("chat", "gpt-4o-mini", True, 64)
    assert view.tools == ("lookup",)
    assert view.input_tokens_estimate == 100


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"messages": [{"role": "user", "content": "x"}]}, "missing_model"),
        ({"model": "", "messages": [{"role": "user", "content": "x"}]}, "missing_model"),
        ({"model": "m"}, "invalid_request"),
        ({"model": "m", "messages": []}, "invalid_request"),
        ({"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": -1}, "invalid_request"),
        (
            {"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": "9"},
            "invalid_request",
        ),
    ],
)
def test_chat_view_rejects_bad_requests(body: dict[str, object], reason: str) -> None:
    with pytest.raises(BadRequest) as err:
        dialect.chat_view(body, 10)
    assert err.value.reason == reason


def test_max_completion_tokens_wins() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}], "max_completion_tokens": 7}
    assert dialect.chat_view(body, 10).max_tokens == 7


def test_embeddings_view_needs_input() -> None:
    with pytest.raises(BadRequest):
        dialect.embeddings_view({"model": "e"}, 5)
    assert dialect.embeddings_view({"model": "e", "input": ["a"]}, 8).action == "embeddings"


def test_upstream_body_forwards_raw_bytes_when_nothing_changes() -> None:
    raw = b'{"model":"gpt-4o-mini","messages":[]}'
    out, injected = dialect.upstream_body(
        orjson.loads(raw), raw, model="gpt-4o-mini", want_stream_usage=False
    )
    assert out is raw and not injected


def test_upstream_body_rewrites_model_and_injects_usage_request() -> None:
    raw = b'{"model":"claude-3-5-sonnet","stream":true,"messages":[]}'
    out, injected = dialect.upstream_body(
        orjson.loads(raw), raw, model="claude-3-5-sonnet-latest", want_stream_usage=True
    )
    body = orjson.loads(out)
    assert injected
    assert body["model"] == "claude-3-5-sonnet-latest"
    assert body["stream_options"] == {"include_usage": True}


def test_usage_request_not_injected_when_client_asked() -> None:
    body = {"model": "m", "stream": True, "stream_options": {"include_usage": True}}
    raw = orjson.dumps(body)
    out, injected = dialect.upstream_body(body, raw, model="m", want_stream_usage=True)
    assert out is raw and not injected


def test_usage_parsing() -> None:
    assert dialect.usage_from_body(b'{"usage":{"prompt_tokens":3,"completion_tokens":4}}') == Usage(3, 4)
    assert dialect.usage_from_body(b'{"usage":{"prompt_tokens":5}}') == Usage(5, 0)
    assert dialect.usage_from_body(b"not json") is None
    assert dialect.usage_from_body(b'{"usage":{"prompt_tokens":"x"}}') is None
    assert dialect.usage_from_event(
        b'{"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2}}'
    ) == Usage(1, 2)
    assert dialect.is_usage_only_event(b'{"choices":[],"usage":{}}')
    assert not dialect.is_usage_only_event(b'{"choices":[{}],"usage":{}}')
