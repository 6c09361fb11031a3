"""Normalisation before detection: invisible and compatibility characters never hide PII,
and masking replaces exactly the caller's characters."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from guard.detector import Detector
from guard.normalize import normalize
from guard.policy import GuardPolicy, Mode


def wide(text: str) -> str:
    """The full-width form of each digit (U+FF10 ...)."""
    return "".join(chr(0xFF10 + int(ch)) if ch.isdigit() else ch for ch in text)


def test_ascii_is_passed_through() -> None:
    view = normalize("plain text 123")
    assert not view.changed and view.text == "plain text 123" and view.span(6, 10) == (6, 10)


def test_invisible_characters_are_removed_and_mapped_back() -> None:
    original = f"\ufeffcall Mül\u200bler at {wide('01 40 01 23 06')} \u2013 ok"
    view = normalize(original)
    assert view.text == "call Müller at 01 40 01 23 06 - ok"
    name = re.search("Müller", view.text)
    assert name is not None and original[slice(*view.span(*name.span()))] == "Mül\u200bler"
    digits = view.text.index("01 40")
    assert original[slice(*view.span(digits, digits + 14))] == wide("01 40 01 23 06")


def test_combining_accents_are_composed() -> None:
    view = normalize("Jose\u0301 Nu\u0303nez")
    assert view.text == "Jos\u00e9 N\u0169nez"  # one code point each, as the word lists have them
    assert view.span(0, 4) == (0, 5)


TRICKY = list("ab 1\u200b\ufeff\u00adé\u0301\ufb01\uff10\u2013")


@given(st.text(alphabet=st.sampled_from(TRICKY), max_size=40))
def test_every_span_maps_inside_the_original(text: str) -> None:
    view = normalize(text)
    for start in range(len(view.text)):
        for end in range(start + 1, len(view.text) + 1):
            a, b = view.span(start, end)
            assert 0 <= a < b <= len(text)


def test_hidden_characters_do_not_hide_pii(detector: Detector) -> None:
    texts = [
        "mail ann\u200b.lee@example.com",
        f"SSN {wide('550-25-8841')}",
        "card 4111\u00a01111\u00a01111\u00a01111",
        "\ufeffphone 01\u200c 40 01 23 06",
    ]
    found = detector.detect(texts, GuardPolicy(mode=Mode.DETECT))
    entities = [[d.entity for d in part] for part in found]
    assert entities == [["EMAIL_ADDRESS"], ["US_SSN"], ["CREDIT_CARD"], ["PHONE_NUMBER"]]
    email = found[0][0]
    assert texts[0][email.start : email.end] == "ann\u200b.lee@example.com"
