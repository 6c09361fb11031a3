"""The NER scope: which sentences spaCy must see, and that skipping the rest loses nothing."""

from __future__ import annotations

import json

import pytest

from guard import GuardPolicy
from guard.detector import Detector
from guard.nerscope import NerScope
from guard.recognizers.gazetteer import Gazetteer
from guard.recognizers.ner import SpacyNerRecognizer
from tests.support.fixtures_guard import DATA

KNOWN = {"sarah", "berlin", "chen"}
scope = NerScope(KNOWN.__contains__)


def picked(text: str) -> list[str]:
    return [text[start:end] for start, end in scope.spans(text)]


def test_text_without_capitals_needs_no_ner() -> None:
    assert picked("ask sarah about the invoice. thanks!") == []


def test_a_capital_only_at_the_sentence_start_is_skipped() -> None:
    assert picked("Thanks for the update. The cluster looks healthy again.") == []


@pytest.mark.parametrize(
    "sentence",
    [
        "Please forward it to Sarah Chen.",  # a capital past the first word
        "Sarah called this morning.",  # a known name as the first word
        "Berlin was cold.",
        "JOHN SMITH signed it.",  # more than a capitalised first letter
        "McKay signed it.",
        "Note: Priya approved it.",  # after a colon, not a sentence start
    ],
)
def test_sentences_that_may_name_someone_are_kept(sentence: str) -> None:
    assert picked(f"ok. {sentence} bye.") == [sentence]


def test_the_pronoun_i_names_nobody() -> None:
    assert picked("Yesterday I said I'm late and I'll call.") == []


def test_neighbouring_sentences_stay_together_for_context() -> None:
    text = "We met Ana Lopez. She works with Tom Berg.\nThe weather was bad. Then Sarah called."
    assert picked(text) == ["We met Ana Lopez. She works with Tom Berg.", "Then Sarah called."]


def test_scoped_ner_finds_what_whole_text_ner_finds(detector: Detector) -> None:
    # Scoping is only an optimisation: on the seed samples and the labelled evaluation set
    # the NER recognizer's answers (after its plausibility rules) must not change.
    engine = detector.nlp_engine
    recognizer = SpacyNerRecognizer(Gazetteer.bundled())
    entities = ["PERSON", "LOCATION", "ORGANIZATION"]
    samples = [line for line in (DATA / "seed" / "pii_samples.txt").read_text().splitlines() if line.strip()]
    samples += [json.loads(line)["text"] for line in (DATA / "pii_eval.jsonl").read_text().splitlines()]
    whole = [a for _, a in engine.process_batch(samples, "en")]
    scoped = engine.process_scoped(samples, detector.ner_scope.spans)
    for text, full, part in zip(samples, whole, scoped, strict=True):
        expected = {(r.entity_type, r.start, r.end) for r in recognizer.analyze(text, entities, full)}
        got = {(r.entity_type, r.start, r.end) for r in recognizer.analyze(text, entities, part)}
        assert got == expected, text


def test_detection_is_unchanged_for_lowercase_and_mixed_text(detector: Detector) -> None:
    text = "hi team. please ask sarah chen to call +1 415 555 0100. Then email Priya Raman."
    found = {(d.entity, text[d.start : d.end]) for d in detector.detect([text], GuardPolicy())[0]}
    assert ("PERSON", "sarah chen") in found
    assert ("PERSON", "Priya Raman") in found
