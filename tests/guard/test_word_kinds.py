"""What the word lists say about a word (guard.recognizers.gazetteer) and what the cased
view (guard.casing) and the NER scope (guard.nerscope) do with it."""

from __future__ import annotations

import pytest

from guard.casing import Truecaser
from guard.nerscope import NerScope
from guard.recognizers.gazetteer import MAX_NAME_LENGTH, Gazetteer


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return Gazetteer.bundled()


@pytest.mark.parametrize("word", ["wamwema", "ndlovana", "gbowoade", "ožďany"])
def test_a_word_of_no_language_the_lists_know_is_foreign(gazetteer: Gazetteer, word: str) -> None:
    assert gazetteer.foreign(word)


@pytest.mark.parametrize(
    ("word", "why"),
    [
        ("yolk", "rare English, in the full lexeme list"),
        ("sarah", "a known given name: the name rules decide"),
        ("runbook", "two everyday words run together"),
        ("kubectl", "software jargon: known pieces"),
        ("smple", "one letter dropped from 'simple'"),
        ("totla", "two letters swapped in 'total'"),
        ("meetimg", "one letter mistyped in 'meeting'"),
        ("onboardings", "shaped like an English plural"),
        ("abc", "too short to tell"),
        ("q" * (MAX_NAME_LENGTH + 1), "longer than any name"),
    ],
)
def test_what_is_not_foreign(gazetteer: Gazetteer, word: str, why: str) -> None:
    assert not gazetteer.foreign(word), why


def test_foreign_among_keeps_only_the_foreign_words(gazetteer: Gazetteer) -> None:
    words = ["please", "remind", "wamwema", "about", "the", "runbook", "ndlovana"]
    assert gazetteer.foreign_among(words) == {"wamwema", "ndlovana"}


def test_the_cased_view_capitalises_foreign_words_and_names_in_capitals(gazetteer: Gazetteer) -> None:
    view = Truecaser(gazetteer.proper, gazetteer.foreign_among)
    assert view("remind wamwema about the audit") == "remind Wamwema about the audit"
    assert view("tell KOFI MENSAH the truck is late") == "tell Kofi Mensah the truck is late"
    assert view("the AWS bill and the GDPR audit") == "the AWS bill and the GDPR audit"
    text = "remind wamwema about the runbook"
    assert len(view(text)) == len(text)  # offsets need no mapping


def test_a_sentence_with_a_foreign_word_goes_to_ner(gazetteer: Gazetteer) -> None:
    scope = NerScope(gazetteer.proper, gazetteer.foreign_among)
    text = "the deploy is done. remind wamwema about the audit."
    assert [text[a:b].rstrip(".") for a, b in scope.spans(text)] == ["remind wamwema about the audit"]
    assert scope.spans("the deploy is done. remind the team about the audit.") == []
