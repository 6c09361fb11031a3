from __future__ import annotations

import pytest

from gateway.dialects import fields as f
from gateway.errors import BadRequest


def test_parse_object_rejects_garbage_without_parser_text() -> None:
    for raw in (b"{not json", b'{"a":"\\ud800"}', b"[1, 2]", b'"x"', b"{" * 2000):
        with pytest.raises(BadRequest) as err:
            f.parse_object(raw)
        assert err.value.reason == "malformed_json"
        assert "line" not in err.value.message and "char" not in err.value.message


def test_canonical_body_keeps_the_last_of_duplicate_keys() -> None:
    body = f.parse_object(b'{"model": "gpt-4o", "model": "gpt-4o-mini"}')
    assert f.canonical(body) == b'{"model":"gpt-4o-mini"}'


@pytest.mark.parametrize(
    "value",
    ['gpt-4o", "allow": true, "x": "', "a b", "tab\there", "nul\x00", "", "x" * 200, "{}", 7, None],
)
def test_identifiers_refuse_anything_that_could_carry_structure(value: object) -> None:
    with pytest.raises(BadRequest) as err:
        f.identifier(value, "model")
    assert err.value.details["field"] == "model"


@pytest.mark.parametrize("good", ["gpt-4o-mini", "llama3.2:1b", "claude-3-5-sonnet@20240620", "org/model+v2"])
def test_identifiers_accept_real_model_names(good: str) -> None:
    assert f.identifier(good, "model") == good


@pytest.mark.parametrize("value", [None, True, False, 0, -1, 1.5, 100.0, "9", 2**31, 2**63, 2**64, [], {}])
def test_token_caps_are_plain_positive_integers(value: object) -> None:
    with pytest.raises(BadRequest) as err:
        f.token_cap({"max_tokens": value}, "max_tokens")
    assert err.value.details["field"] == "max_tokens"


def test_token_caps_absent_or_valid() -> None:
    assert f.token_cap({}, "max_tokens") is None
    assert f.token_cap({"max_tokens": 4096}, "max_tokens") == 4096
    assert f.largest_cap(None, 100, 100_000) == 100_000
    assert f.largest_cap(None, None) is None


def test_objects_names_the_offending_index() -> None:
    with pytest.raises(BadRequest) as err:
        f.objects([{}, "x"], "messages")
    assert err.value.details["field"] == "messages[1]"
    with pytest.raises(BadRequest):
        f.objects([], "messages", required=True)
