"""Place rules over the word lists: known places, "St." forms, and unknown towns after a
verb of living or travelling.

A place that is nothing else is a place; one that is also an English word ("Nice") or a
given name ("Sofia") needs a capital, a preposition or a stronger cue ("lives in").
"""

from __future__ import annotations

import re
from itertools import pairwise

from presidio_analyzer import RecognizerResult

from guard.normalize import fold
from guard.recognizers import cues
from guard.recognizers.gazetteer import Gazetteer, Words
from guard.recognizers.tokens import LAST_WORD, PARTICLES, Word

_LISTED_BEFORE = re.compile(r"(?<![\w@/\\])([^\W\d_]+)\s*(?:,|\bor\b|\band\b|&|/)\s*$", re.IGNORECASE)
_LISTED_AFTER = re.compile(r"\s*(?:,|or\b|and\b|&|/)\s*([^\W\d_]+)(?![\w@/\\])", re.IGNORECASE)
# Abbreviations of "saint" in place names, and the spellings the lists use.
_SAINT = {
    "st": ("saint", "sankt", "san", "santa", "st.", "st"),
    "ste": ("sainte", "ste.", "ste"),
    "sta": ("santa", "sta."),
}
_IN_OR_NEAR = re.compile(r"\b(?:in|near)\s+$", re.IGNORECASE)
_PREFIX_PLACES = 20  # distinct two-word starts of places that make a word a place prefix


class PlaceRules:
    def __init__(self, gazetteer: Gazetteer) -> None:
        self._gaz = gazetteer
        # Longest place (in words) starting with each word, and the first two words of every
        # longer place: most words start no place, or only a one-word one, and this skips
        # the n-gram look-ups for them.
        longest: dict[str, int] = {}
        pairs: set[str] = set()
        for place in [p for p in gazetteer.locations if " " in p]:  # a fifth of them
            words = place.split()
            if len(words) <= 4:
                longest[words[0]] = max(longest.get(words[0], 1), len(words))
                pairs.add(" ".join(words[:2]))
        self._place_starts = longest
        # Words that start many places ("san", "santa", "port", "new"): a given name before a
        # place says "surname" only if it is not one of these ("Santa Marta" is a city).
        starts: dict[str, int] = {}
        for place in pairs:
            first = place.split()[0]
            starts[first] = starts.get(first, 0) + 1
        self._place_prefixes = frozenset(w for w, n in starts.items() if n >= _PREFIX_PLACES)
        self._place_pairs = Words(pairs)

    def find(self, text: str, words: list[Word]) -> list[RecognizerResult]:
        results = []
        index = 0
        while index < len(words):
            word = words[index][2]
            if self._unknown_place(text, words[index]):
                results.append(RecognizerResult("LOCATION", words[index][0], words[index][1], 0.6))
                index += 1
                continue
            saint = self._saint_place(text, words, index) if word.lower() in _SAINT else 0
            if saint:
                end = words[index + saint - 1][1]
                results.append(RecognizerResult("LOCATION", words[index][0], end, 0.85))
                index += saint
                continue
            longest = self._longest_place(word.lower())
            if longest > 1 or (longest and not (word.islower() and word in self._gaz.everyday)):
                size = self._place_at(text, words, index, longest)
            else:
                size = 0  # starts no place, or only an everyday one-word place in lower case
            if size:
                end = words[index + size - 1][1]
                score = self._place_score(words[index : index + size])
                results.append(RecognizerResult("LOCATION", words[index][0], end, score))
                index += size
            else:
                index += 1
        return results

    def _saint_place(self, text: str, words: list[Word], i: int) -> int:
        """Words in a place written with "St." or "Ste." for the word the lists spell out
        ("ST. GALLEN" for Sankt Gallen, "st louis" for Saint Louis); 0 if none."""
        if i + 1 >= len(words) or text[words[i][1] : words[i + 1][0]] not in (" ", ". ", "."):
            return 0
        full = _SAINT[words[i][2].lower()]
        for size in (3, 2, 1):
            rest = words[i + 1 : i + 1 + size]
            if len(rest) < size or any(text[a[1] : b[0]] not in (" ", "-") for a, b in pairwise(rest)):
                continue
            tail = " ".join(w[2].lower() for w in rest)
            if any(f"{prefix} {tail}" in self._gaz.locations for prefix in full):
                return size + 1
        return 0

    def _unknown_place(self, text: str, word: Word) -> bool:
        """A word in no list after a verb of living or travelling and its preposition ("born
        in snedsted", "the parcel to Haderup", "the Havndal office"), or one spelt with letters
        English does not use after "in", "from", "near" or "via" ("via ožďany"): a town the
        lists do not know. It must be no word of any English kind, product or name."""
        start, end, value = word
        low = value.lower()
        # Cheapest test first: this runs for every word and most are everyday words.
        if len(low) < 4 or low in self._gaz.everyday or value.isupper():
            return False
        if self._gaz.knows(low) or not self._unknown_word(low):
            return False
        if cues.strong_place_before(text, start, unknown_word=True) or cues.place_after(text, end):
            # Not jargon ("settings live in pyproject"); tested last, it is the dearest test.
            return not self._gaz.compound(low)
        if self._gaz.foreign(low) and _IN_OR_NEAR.search(text, max(0, start - 8), start):
            return True  # "starts monday in maulvibazar": "in" takes places, not people
        return (
            not value.isascii()
            and (value.islower() or self._gaz.foreign(low))  # the cased view capitalises a foreign word
            and (
                cues.place_before(text, start, strict=True)
                or text[max(0, start - 4) : start].lower() == "via "
            )
        )

    def _unknown_word(self, low: str) -> bool:
        gaz = self._gaz
        return not (
            low in gaz.ordinary
            or low in gaz.ambiguous
            or low in gaz.products
            or low in gaz.ner_stop_terms
            or low in gaz.not_cued_name_words
        )

    def _after_given_name(self, text: str, start: int) -> bool:
        if not self._gaz.after_given_name(text, start):
            return False
        before = LAST_WORD.search(text, max(0, start - 24), start)
        return before is not None and fold(before.group(1).lower()) not in self._place_prefixes

    def _place_score(self, span: list[Word]) -> float:
        """A known place of several words ("North Dakota", "Vila Franca de Xira") or a
        capitalised major place that is no given name outranks the small model's reading
        of a part of it as a person."""
        word = span[0][2]
        key = word.lower()
        if len(span) > 1 or (
            word[0].isupper() and key in self._gaz.major_locations and key not in self._gaz.first_names
        ):
            return 0.9
        return 0.75 if word[0].isupper() else 0.6

    def _longest_place(self, low: str) -> int:
        """Words in the longest place starting with ``low`` (0: none starts with it)."""
        longest = self._place_starts.get(low) or self._place_starts.get(fold(low), 0)
        return longest or (1 if low in self._gaz.locations else 0)

    def _place_at(self, text: str, words: list[Word], i: int, longest: int) -> int:
        first = words[i][2].lower()
        joined = i + 1  # words of a place are separated by exactly one space
        if longest > 1 and i + 1 < len(words) and f"{first} {words[i + 1][2].lower()}" in self._place_pairs:
            while (
                joined < min(i + longest, len(words)) and text[words[joined - 1][1] : words[joined][0]] == " "
            ):
                joined += 1
        for size in range(joined - i, 0, -1):
            span = words[i : i + size]
            key = first if size == 1 else " ".join(w[2] for w in span).lower()
            if key in self._gaz.locations and self._place_evidence(text, span, key):
                return size
        return 0

    def _place_evidence(self, text: str, span: list[Word], key: str) -> bool:
        """A place that is nothing else is a place; an everyday word ("Nice", "Reading")
        needs a capital and a preposition; a place that is also a given name ("Sofia",
        "Florence") needs a preposition unless it is a major place."""
        start, _, first = span[0]
        capital = first[0].isupper()
        cue = cues.place(text, start, span[-1][1])
        if cues.attributive_after(text, span[-1][1]) and not cues.place_before(text, start, strict=True):
            return False  # "Boston cream pie", "the Geneva Convention"
        if len(span) > 1:
            if span[-1][2].lower() in self._gaz.not_cued_name_words:
                return False
            # "new york" has a word that is only a name; "golden gate" needs its capitals
            # ("Mar del Plata": every word but a particle capitalised) or a preposition.
            titled = all(w[2][0].isupper() or w[2] in PARTICLES for w in span)
            return titled or cue or any(self._gaz.plain(w[2].lower()) for w in span)
        if key in self._gaz.never or key in self._gaz.not_cued_name_words or key in self._gaz.products:
            return False  # "in May", "The office", "at Google"
        if self._after_given_name(text, start) and not cues.place_after(text, span[-1][1]):
            return False  # "dear daniel marchand": a surname, not the village of Marchand
        if key in self._gaz.calendar:
            return False  # "in August", "English Breakfast"
        strength = self._gaz.strength(key)
        end = span[-1][1]
        strong = (
            cues.strong_place_before(text, start)
            or cues.place_after(text, end)
            or self._listed(text, start, end)
        )
        if strength == 0:
            # A big city no English word spells ("Corrientes") needs only its capital.
            major = key in self._gaz.major_locations and key not in self._gaz.everyday
            if capital:
                return cue or (major and not first.isupper())  # not "UTC", "SLA"
            # Lower case (or shouted, see guard.casing): a major place after "lives in",
            # "flight to" ("weather in corse").
            return key in self._gaz.major_locations and strong
        if strength == 1:
            return strong or (cue and (capital or key in self._gaz.major_locations))
        if key in self._gaz.first_names and (
            key not in self._gaz.major_locations or key in self._gaz.common_first_names
        ):
            # "a note to pablo" is a person, "lives in Pablo" or "colorado or lorraine" a place.
            return strong or cues.place(text, start, end, strict=True)
        return True

    def _listed(self, text: str, start: int, end: int) -> bool:
        """Next to a place that is nothing else, in a list: "is colorado or lorraine better",
        "Réunion or Alabama", "sweden, peru and chile"."""
        before = _LISTED_BEFORE.search(text, max(0, start - 32), start)
        after = _LISTED_AFTER.match(text, end)
        return any(m is not None and self._plain_place(m.group(1).lower()) for m in (before, after))

    def _plain_place(self, low: str) -> bool:
        """A major place that is no given name and no English word ("colorado", "alabama")."""
        return low in self._gaz.major_locations and self._gaz.plain(low) and low not in self._gaz.first_names
