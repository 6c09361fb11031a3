"""The guard's view of a body: every string the provider reads, keys included, written back."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest

from gateway.dialects import anthropic, ollama, openai, responses
from gateway.dialects.slots import Shape, collect
from gateway.errors import BadRequest

SHAPE = openai.SHAPE


def _mark(body: dict[str, Any], shape: Shape = SHAPE) -> tuple[list[str], dict[str, Any]]:
    """Collect, then write back every text upper-cased: what changed is what was guarded."""
    slots = collect(body, shape)
    texts = list(slots.texts)
    slots.write_back([t.upper() for t in texts])
    return texts, body


def test_structure_is_kept_and_every_other_string_is_guarded() -> None:
    body = {
        "model": "gpt-4o-mini",
        "user": "alice@acme.com",
        "messages": [
            {
                "role": "user",
                "name": "alice",
                "content": [{"type": "text", "text": "hi"}, {"type": "refusal", "refusal": "no"}],
            },
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "lookup_bob", "arguments": '{"who": "bob"}'},
                    }
                ],
            },
        ],
        "metadata": {"owner": "carol"},
    }
    texts, out = _mark(body)
    assert out["model"] == "gpt-4o-mini" and out["messages"][0]["role"] == "user"
    assert out["messages"][0]["content"][0]["type"] == "text"
    for text in (
        "alice@acme.com",
        "alice",
        "hi",
        "no",
        "call_1",
        "lookup_bob",
        "bob",
        "carol",
        "who",
        "owner",
    ):
        assert text in texts, text
    assert orjson.loads(out["messages"][1]["tool_calls"][0]["function"]["arguments"]) == {"WHO": "BOB"}
    assert out["metadata"] == {"OWNER": "CAROL"}


def test_free_form_subtrees_guard_structural_looking_values_too() -> None:
    body = {"model": "m", "messages": [], "metadata": {"role": "dave", "type": "erin"}}
    _, out = _mark(body)
    assert out["metadata"] == {"role": "DAVE", "type": "ERIN"}


def test_keys_of_schemas_and_arguments_are_guarded_but_api_words_are_not() -> None:
    tool = {
        "type": "function",
        "function": {
            "name": "f",
            "description": "d",
            "parameters": {
                "type": "object",
                "properties": {"frank_ssn": {"type": "string", "enum": ["grace"]}},
            },
        },
    }
    texts, out = _mark({"model": "m", "messages": [], "tools": [tool]})
    assert "frank_ssn" in texts and "grace" in texts and "properties" not in texts
    assert "FRANK_SSN" in out["tools"][0]["function"]["parameters"]["properties"]


def test_json_text_is_always_re_serialised_so_duplicates_cannot_hide() -> None:
    args = '{"a": "123-45-6789", "a": "clean"}'
    body = {
        "model": "m",
        "messages": [{"role": "assistant", "tool_calls": [{"function": {"arguments": args}}]}],
    }
    slots = collect(body, SHAPE)
    assert slots.rewrites
    slots.write_back(slots.texts)
    sent = body["messages"][0]["tool_calls"][0]["function"]["arguments"]
    assert "123-45-6789" not in sent and orjson.loads(sent) == {"a": "clean"}


def test_text_data_urls_are_decoded_guarded_and_re_encoded_binary_left_alone() -> None:
    text = base64.b64encode(b"call henry").decode()
    image = "data:image/png;base64," + base64.b64encode(b"\x89PNG").decode()
    body = {
        "model": "m",
        "messages": [
            {
                "role": "user",
                "content": [
                    {
                        "type": "file",
                        "file": {"file_data": f"data:text/plain;base64,{text}", "filename": "ivan.txt"},
                    },
                    {"type": "image_url", "image_url": {"url": image}},
                ],
            }
        ],
    }
    texts, out = _mark(body)
    assert "call henry" in texts and "ivan.txt" in texts
    encoded = out["messages"][0]["content"][0]["file"]["file_data"]
    assert base64.b64decode(encoded.split(",", 1)[1]) == b"CALL HENRY"
    assert out["messages"][0]["content"][1]["image_url"]["url"] == image


def test_keys_masked_alike_are_both_kept() -> None:
    body = {"model": "m", "messages": [], "metadata": {"jack": 1, "JACK": 2}}
    slots = collect(body, SHAPE)
    slots.write_back(["<PERSON>" if t.lower() == "jack" else t for t in slots.texts])
    assert sorted(body["metadata"].values()) == [1, 2]


def test_nesting_is_bounded() -> None:
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(100):
        node["x"] = {}
        node = node["x"]
    with pytest.raises(BadRequest):
        collect({"model": "m", "metadata": deep}, SHAPE)


@pytest.mark.parametrize(
    ("shape", "body", "secret"),
    [
        (
            anthropic.SHAPE,
            {
                "model": "m",
                "system": "kate",
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "tool_use", "id": "t", "name": "n", "input": {"leo": "mia"}}],
                    }
                ],
            },
            "mia",
        ),
        (
            anthropic.SHAPE,
            {
                "model": "m",
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "document",
                                "source": {"type": "text", "media_type": "text/plain", "data": "nora"},
                            }
                        ],
                    }
                ],
            },
            "nora",
        ),
        (
            ollama.SHAPE,
            {"model": "m", "messages": [{"role": "user", "content": "oscar", "images": ["aGk="]}]},
            "oscar",
        ),
        (
            responses.SHAPE,
            {"model": "m", "input": [{"type": "function_call_output", "call_id": "c", "output": "paul"}]},
            "paul",
        ),
    ],
)
def test_every_dialect_shape_reaches_its_text(shape: Shape, body: dict[str, Any], secret: str) -> None:
    texts, _ = _mark(body, shape)
    assert secret in texts
