"""Gazetteer recognizer for PERSON and LOCATION.

The small spaCy model finds capitalised names in well-formed prose but misses lower-case
names ("ask sarah about it") and many first-name-only mentions, which are common in chat.
A gazetteer of first names, surnames and places, with a few rules about capitalisation,
titles ("Dr.") and labels ("Name:"), recovers those at the cost of a dictionary lookup per
word. Words that are also ordinary English ("will", "grace", "nice") need more evidence.
"""

from __future__ import annotations

import csv
import itertools
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from spacy.lang.en.stop_words import STOP_WORDS

_WORD = re.compile(r"[^\W\d_]+(?:['\u2019-][^\W\d_]+)*")  # O'Brien, O\u2019Brien, Smith-Jones
_TITLES = frozenset({"mr", "mrs", "ms", "miss", "dr", "prof", "professor", "sir", "madam", "mx"})
_LABEL = re.compile(
    r"(?:\bname\s*(?:is|:)|\bnamed|\bcalled|\bperson\s*:|\bemployee\s*:|\bpatient\s*:|"
    r"\bcustomer\s*:|\bclient\s*:|\battn\s*:|\bcontact\s*:|\bowner\s*:|\bassignee\s*:|\breporter\s*:|"
    r"\bfrom\s*:|\bcc\s*:|\bdear|\bsigned)\s*$",
    re.IGNORECASE,
)
_PLACE_CUE = re.compile(r"\b(?:in|to|from|at|near|via|visit|visiting|around|of|across)\s+$", re.IGNORECASE)
# Words after which a lower-case unknown word is very likely a person: "ask aurelio to",
# "thanks eero!", "i talked to dagny". Only in chat style, hence lower-case only.
_PERSON_CUE = re.compile(
    r"\b(?:ask|asked|tell|told|ping|pinged|email|emailed|call|cc|thanks|thank|hey|hi|hello|dear|met|"
    r"meet|talked to|spoke to|spoke with|talk to|message|remind|invite|invited)\W{0,2}$",
    re.IGNORECASE,
)
MAX_NAME_WORDS = 4

Word = tuple[int, int, str]


@dataclass(frozen=True, slots=True)
class Gazetteer:
    """Word lists from ``guard/gazetteer.json`` (see its comment), plus directory names."""

    first_names: frozenset[str]
    ambiguous_first_names: frozenset[str]
    surnames: frozenset[str]
    locations: frozenset[str]
    ambiguous_locations: frozenset[str]
    not_name_words: frozenset[str]  # capitalised words that follow a name without being part of it
    not_cued_name_words: frozenset[str]  # lower-case words after a cue that are not names
    wordlike_surnames: frozenset[str]  # surnames that are everyday words ("white", "king")
    verbs_after_names: frozenset[str]  # "david said": not a surname
    ner_stop_terms: frozenset[str]

    @classmethod
    def bundled(cls, extra_people: Iterable[str] = ()) -> Gazetteer:
        raw = json.loads(resources.files("guard").joinpath("gazetteer.json").read_text("utf-8"))
        first, last = set(raw["first_names"]), set(raw["surnames"])
        for full_name in extra_people:
            words = full_name.lower().split()
            if words:
                first.add(words[0])
                last.update(words[1:])
        lists = {
            key: frozenset(raw[key]) for key in ("not_name_words", "wordlike_surnames", "verbs_after_names")
        }
        return cls(
            first_names=frozenset(first),
            ambiguous_first_names=frozenset(raw["ambiguous_first_names"]),
            surnames=frozenset(last),
            locations=frozenset(raw["locations"]),
            # A place that is also a first name ("sofia", "georgia") needs a capital and a cue.
            ambiguous_locations=frozenset(raw["ambiguous_locations"]) | (frozenset(raw["locations"]) & first),
            not_cued_name_words=frozenset(raw["not_cued_name_words"]) | STOP_WORDS,
            ner_stop_terms=frozenset(raw["ner_stop_terms"]),
            **lists,
        )

    def knows(self, word: str) -> bool:
        """A lower-cased word that is a first name, a surname or a place."""
        return word in self.first_names or word in self.surnames or word in self.locations

    @staticmethod
    def people_from_csv(path: Path, column: str = "name") -> list[str]:
        """Full names from a directory export such as an org chart (one row per person)."""
        with path.open(newline="", encoding="utf-8") as handle:
            return [row[column] for row in csv.DictReader(handle) if row.get(column)]


class GazetteerRecognizer(EntityRecognizer):
    def __init__(self, gazetteer: Gazetteer) -> None:
        self._gaz = gazetteer
        # First words of places: most words are not, and this skips the n-gram lookups.
        self._place_starts = frozenset(place.split()[0] for place in gazetteer.locations)
        super().__init__(supported_entities=["PERSON", "LOCATION"], name="skein_gazetteer")

    def load(self) -> None:
        return None

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        words: list[Word] = [(m.start(), m.end(), m.group()) for m in _WORD.finditer(text)]
        results: list[RecognizerResult] = []
        if "PERSON" in entities:
            results.extend(self._people(text, words))
        if "LOCATION" in entities:
            results.extend(self._places(text, words))
        return results

    def _people(self, text: str, words: list[Word]) -> list[RecognizerResult]:
        results = []
        index = 0
        while index < len(words):
            found = self._person_at(text, words, index)
            if found is None:
                index += 1
                continue
            last, score = found
            results.append(RecognizerResult("PERSON", words[index][0], words[last][1], score))
            index = last + 1
        return results

    def _person_at(self, text: str, words: list[Word], i: int) -> tuple[int, float] | None:
        start, _, word = words[i]
        low, capital = word.lower(), word[0].isupper()
        if word.isupper() and len(word) > 1:
            return None  # shouting or an acronym, not a name
        if capital and (self._after_title(text, words, i) or _LABEL.search(text, max(0, start - 24), start)):
            return self._extend(text, words, i, capital=True), 0.85
        if low not in self._gaz.first_names:
            if self._before_surname(text, words, i) or (not capital and self._cued(text, start, low)):
                return self._extend(text, words, i, capital), 0.6
            return None
        last = self._extend(text, words, i, capital)
        if low in self._gaz.ambiguous_first_names and not (capital and last > i):
            return None
        if last > i:
            return last, 0.8
        return last, 0.65 if capital else 0.55

    def _surname_like(self, low: str) -> bool:
        """A lower-case word after a lower-case first name that is probably its surname:
        not a function word, not a verb-looking word, not a place."""
        if (
            len(low) < 3
            or low in self._gaz.not_cued_name_words
            or low in self._gaz.verbs_after_names
            or low in self._gaz.locations
        ):
            return False
        if low in self._gaz.first_names:
            return False  # "ask emma and david" lists two people
        return not low.endswith(("ed", "ing", "s"))

    def _before_surname(self, text: str, words: list[Word], i: int) -> bool:
        """An unknown given name followed by a known surname: "Priyanka Smith", "siobhan kowalski"."""
        if i + 1 >= len(words) or text[words[i][1] : words[i + 1][0]] != " ":
            return False
        word, nxt = words[i][2], words[i + 1][2]
        low, next_low = word.lower(), nxt.lower()
        if (
            low in self._gaz.not_cued_name_words
            or low in self._gaz.not_name_words
            or len(low) < 3
            or low in self._gaz.locations
        ):
            return False
        if next_low not in self._gaz.surnames or next_low in self._gaz.wordlike_surnames:
            return False
        return word[0].isupper() == nxt[0].isupper()

    def _cued(self, text: str, start: int, low: str) -> bool:
        if not self._surname_like(low):
            return False
        return _PERSON_CUE.search(text, max(0, start - 16), start) is not None

    def _after_title(self, text: str, words: list[Word], i: int) -> bool:
        if i == 0:
            return False
        _, prev_end, prev = words[i - 1]
        return prev.lower() in _TITLES and text[prev_end : words[i][0]] in (" ", ". ", ".")

    def _extend(self, text: str, words: list[Word], i: int, capital: bool) -> int:
        """Index of the last word of the name that starts at word ``i``."""
        last = i
        # Lower-case names get one more word at most: "david kim", not "david kim yesterday".
        limit = MAX_NAME_WORDS - 1 if capital else 1
        while last + 1 < len(words) and last - i < limit:
            start, _, nxt = words[last + 1]
            if text[words[last][1] : start] != " ":
                break
            low = nxt.lower()
            known = low in self._gaz.surnames
            titled = (
                capital and nxt[0].isupper() and not nxt.isupper() and low not in self._gaz.not_name_words
            )
            if (
                not (known or titled or (not capital and self._surname_like(low)))
                or low in self._gaz.not_name_words
            ):
                break
            last += 1
        return last

    def _places(self, text: str, words: list[Word]) -> list[RecognizerResult]:
        results = []
        index = 0
        while index < len(words):
            size = self._place_at(text, words, index)
            if size:
                end = words[index + size - 1][1]
                score = 0.75 if words[index][2][0].isupper() else 0.6
                results.append(RecognizerResult("LOCATION", words[index][0], end, score))
                index += size
            else:
                index += 1
        return results

    def _place_at(self, text: str, words: list[Word], i: int) -> int:
        if words[i][2].lower() not in self._place_starts:
            return 0
        for size in (4, 3, 2, 1):
            if i + size > len(words):
                continue
            span = words[i : i + size]
            if any(text[a[1] : b[0]] != " " for a, b in itertools.pairwise(span)):
                continue
            key = " ".join(w[2] for w in span).lower()
            if key not in self._gaz.locations:
                continue
            if key in self._gaz.ambiguous_locations:
                first = span[0]
                cue = _PLACE_CUE.search(text, max(0, first[0] - 16), first[0])
                if not (first[2][0].isupper() and cue):
                    return 0
            return size
        return 0
