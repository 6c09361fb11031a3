"""Cutting long calls into batches: bounded sizes, offsets mapped back, and an entity
across a cut inside a sentence still found exactly once (the overlap)."""

from __future__ import annotations

import itertools

from guard import chunking
from guard.detector import Detector
from guard.policy import GuardPolicy, Mode


def test_pieces_are_bounded_and_cover_the_text() -> None:
    text = "word " * 5000  # no sentence end: cut at whitespace, with overlap
    pieces = chunking.split_text(0, text, 1000)
    assert all(len(p.text) <= 1000 for p in pieces)
    assert pieces[0].offset == 0 and pieces[-1].offset + len(pieces[-1].text) == len(text)
    for before, after in itertools.pairwise(pieces):
        assert after.offset < before.offset + len(before.text)  # overlapping, no gap


def test_sentence_ends_are_preferred_and_need_no_overlap() -> None:
    text = "A short sentence here. " * 400
    pieces = chunking.split_text(0, text, 1000)
    for before, after in itertools.pairwise(pieces):
        assert after.offset == before.offset + len(before.text)
        assert before.text.endswith(". ")


def test_a_small_call_is_one_batch_and_a_huge_one_many() -> None:
    assert len(chunking.plan(["hello", "world"], workers=2)) == 1
    batches = chunking.plan(["x. " * 40_000], workers=2, max_chars=8000)
    assert len(batches) >= 15
    assert all(sum(len(p.text) for p in b) <= 8000 for b in batches)


def test_an_entity_across_a_cut_is_found_once(detector: Detector) -> None:
    policy = GuardPolicy(mode=Mode.DETECT, entities=frozenset({"EMAIL_ADDRESS", "US_SSN"}))
    for shift in range(0, 60, 7):
        text = "x " * (495 + shift) + "mail ann.lee@example.com ssn 123-45-6789 " + "y " * 800
        batches = chunking.plan([text], workers=2, min_chars=100, max_chars=1000)
        found = [detector.detect([p.text for p in b], policy) for b in batches]
        merged = chunking.merge(1, batches, found)[0]
        values = sorted(text[d.start : d.end] for d in merged)
        assert values == ["123-45-6789", "ann.lee@example.com"], (shift, values)
