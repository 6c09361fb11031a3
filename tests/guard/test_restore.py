"""restore() and StreamRestorer: exact, bounded, and identical for every chunking."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from guard import HmacSigner, StreamRestorer, json_string_escape, restore
from guard.policy import Detection, Mode
from guard.transform import apply_mode

MAPPING = {"PERSON_v1_3f9a1c0d": "John Smith", "EMAIL_ADDRESS_v1_00ff00ff": "john@acme.com"}
SIGNER = HmacSigner(b"k" * 32, 1)


def stream(chunks: list[str], mapping: dict[str, str] = MAPPING) -> str:
    restorer = StreamRestorer(mapping)
    return "".join(restorer.feed(c) for c in chunks) + restorer.flush()


def test_restore_known_tokens() -> None:
    text = "Hi PERSON_v1_3f9a1c0d, mail EMAIL_ADDRESS_v1_00ff00ff."
    assert restore(text, MAPPING) == "Hi John Smith, mail john@acme.com."


def test_invented_or_mangled_tokens_stay() -> None:
    text = "PERSON_v1_3f9a1c0e PERSON_v2_3f9a1c0d person_v1_3f9a1c0d PERSON_v1_3f9a1c0 LOCATION_v1_12345678"
    assert restore(text, MAPPING) == text
    assert stream([text]) == text


def test_split_at_every_offset() -> None:
    text = "Dear PERSON_v1_3f9a1c0d, write to EMAIL_ADDRESS_v1_00ff00ff today."
    expected = restore(text, MAPPING)
    for cut in range(len(text) + 1):
        assert stream([text[:cut], text[cut:]]) == expected
    for a in range(len(text)):
        for b in range(a, len(text)):
            assert stream([text[:a], text[a:b], text[b:]]) == expected


def test_text_without_tokens_passes_immediately() -> None:
    restorer = StreamRestorer(MAPPING)
    assert restorer.feed("Hello, how are you?") == "Hello, how are you?"
    assert restorer.feed(" Fine") == " Fine"


def test_hold_back_is_bounded_to_a_token_prefix() -> None:
    restorer = StreamRestorer(MAPPING)
    assert restorer.feed("Hi PERS") == "Hi "
    assert restorer.feed("ON_v1_3f9a") == ""
    assert restorer.feed("1c0d!") == "John Smith!"
    assert restorer.feed("PERSONAL") == "PERSONAL"  # diverged: released at once
    assert restorer.flush() == ""


def test_flush_releases_an_unfinished_token() -> None:
    restorer = StreamRestorer(MAPPING)
    assert restorer.feed("end PERSON_v1_3f") == "end "
    assert restorer.flush() == "PERSON_v1_3f"


def test_empty_mapping_is_a_pass_through() -> None:
    assert stream(["PERSON_v1_3f9a1c0d"], {}) == "PERSON_v1_3f9a1c0d"


def test_json_escape_for_tool_arguments() -> None:
    mapping = {"PERSON_v1_3f9a1c0d": 'Jo "JJ" O\\Neil'}
    restorer = StreamRestorer(mapping, escape=json_string_escape)
    chunks = ['{"name": "PERSON_v1', '_3f9a1c0d"}']
    out = "".join(restorer.feed(c) for c in chunks) + restorer.flush()
    assert out == '{"name": "Jo \\"JJ\\" O\\\\Neil"}'
    assert (
        restore('{"n":"PERSON_v1_3f9a1c0d"}', mapping, json_string_escape) == '{"n":"Jo \\"JJ\\" O\\\\Neil"}'
    )


def _pseudonymize(text: str, cuts: list[int]) -> tuple[str, dict[str, str]]:
    """Treat arbitrary non-empty slices of ``text`` as detected entities."""
    bounds = sorted(set(c % (len(text) + 1) for c in cuts))
    found = [Detection("PERSON", a, b, 1.0) for a, b in zip(bounds[::2], bounds[1::2], strict=False) if b > a]
    result = apply_mode(Mode.PSEUDONYMIZE, [text], [found], SIGNER)
    return result.parts[0], dict(result.mapping)


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1), st.lists(st.integers(min_value=0), max_size=8))
def test_property_pseudonymize_then_restore(text: str, cuts: list[int]) -> None:
    masked, mapping = _pseudonymize(text, cuts)
    assert restore(masked, mapping) == text


@settings(max_examples=200, deadline=None)
@given(
    st.text(min_size=1),
    st.lists(st.integers(min_value=0), max_size=8),
    st.lists(st.integers(min_value=1, max_value=12)),
)
def test_property_any_chunking(text: str, cuts: list[int], sizes: list[int]) -> None:
    masked, mapping = _pseudonymize(text, cuts)
    chunks, pos = [], 0
    for size in sizes or [len(masked) or 1]:
        chunks.append(masked[pos : pos + size])
        pos += size
    chunks.append(masked[pos:])
    assert stream(chunks, mapping) == text
