"""The word lists behind the name and place rules, and what they say about a word.

Generated lists (``guard/data``: names-dataset, GeoNames, English case statistics from
spaCy's lexeme table) joined with the hand-made ``guard/gazetteer.json``: given names,
surnames, places, and how English a word is ("will" is ordinary, "grace" ambiguous,
"yolk" just English, "wamwema" foreign). Loaded once per worker (~0.3 s).
"""

from __future__ import annotations

import csv
import gzip
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from spacy.lang.en.stop_words import STOP_WORDS

from guard.normalize import fold
from guard.recognizers.tokens import LAST_WORD

# Shorter words are a slip away from too many others ("kofi", "koi"); longer ones are rare.
_MIN_TYPO_LENGTH, _MAX_TYPO_LENGTH = 5, 14
_LETTERS = "abcdefghijklmnopqrstuvwxyz"
MAX_NAME_LENGTH = 30  # also bounds the compound and typo tests: a 1 MB "word" costs nothing
GENERATED = "gazetteer.json.gz"  # guard/data, made by ``python -m guard.data.build``
# Endings of English verbs, plurals and abstract nouns ("procurement", "onboarding"): an
# unknown word ending so is no surname, and no foreign name.
ENGLISH_SUFFIXES = ("ed", "ing", "s", "ment", "tion", "sion", "ness", "ity", "ance", "ence", "ship", "ops")


class Words(frozenset[str]):
    """A lower-case word list that also matches a word written without its accents (the
    lists hold both forms, so only a word with accents needs a second look-up)."""

    def __contains__(self, word: object) -> bool:
        if frozenset.__contains__(self, word):
            return True
        return isinstance(word, str) and not word.isascii() and frozenset.__contains__(self, fold(word))


@dataclass(frozen=True, slots=True)
class Gazetteer:
    """Generated lists (``guard/data``: names-dataset, GeoNames, English case statistics)
    joined with the hand-made ``guard/gazetteer.json`` (its comment says what each is)
    and the names of a directory export."""

    first_names: Words
    common_first_names: Words  # so common that a person is meant unless a preposition says place
    surnames: Words
    locations: Words
    major_locations: Words  # countries, states, capitals, big cities: a place before a name
    ordinary: frozenset[str]  # list words mostly written in lower case: need strong evidence
    ambiguous: frozenset[str]  # written both ways ("grace", "hunter"): needs some evidence
    everyday: frozenset[str]  # frequent lower-case English words: never a name by a cue alone
    never: frozenset[str]  # weekdays, months, titles, greetings, demonyms: never a name or place
    not_name_words: frozenset[str]  # capitalised words that follow a name without being part of it
    not_cued_name_words: frozenset[str]  # lower-case words after a cue that are not names
    verbs_after_names: frozenset[str]  # "david said": not a surname
    ner_stop_terms: frozenset[str]
    products: frozenset[str] = frozenset()  # product words that are no given name: no person or place
    calendar: frozenset[str] = frozenset()  # months, seasons, languages that are also names: no place
    english: frozenset[str] = frozenset()  # any other English word ("yolk", "backoff"): no foreign name
    jargon_parts: frozenset[str] = frozenset()  # "kube", "ctl", "py": pieces of software words
    _proper: Words = field(default_factory=Words, repr=False, compare=False)
    _english: frozenset[str] = field(default_factory=frozenset, repr=False, compare=False)
    _slips: frozenset[str] = field(default_factory=frozenset, repr=False, compare=False)

    @classmethod
    def bundled(cls, extra_people: Iterable[str] = ()) -> Gazetteer:
        raw = json.loads(resources.files("guard").joinpath("gazetteer.json").read_text("utf-8"))
        made = json.loads(gzip.decompress(resources.files("guard.data").joinpath(GENERATED).read_bytes()))
        first = {*raw["first_names"], *made["first_names"]}
        last = {*raw["surnames"], *made["surnames"]}
        for full_name in extra_people:
            words = full_name.lower().split()
            if words:
                first.add(words[0])
                last.update(words[1:])
        never = frozenset({*raw["never_names"], *made["demonyms"]})
        # A product that is also a given name ("Julia", "Cassandra", "Miro") stays findable
        # as a name with evidence; any other product word ("Okta", "Jenkins") is not read
        # as a name by the small model (a title or a given name before it still is).
        products = set(raw["products"])
        stop_terms = {*raw["ner_stop_terms"], *(products - first)}
        products_only = frozenset(products - first)
        hand_ordinary = {
            *raw["not_cued_name_words"],
            *raw["wordlike_surnames"],
            *raw["calendar_names"],
            *stop_terms,
        }
        hand_ambiguous = {*raw["ambiguous_first_names"], *raw["ambiguous_locations"], *(products & first)}
        return cls(
            first_names=Words(first),
            common_first_names=Words(made["common_first_names"]),
            surnames=Words(last),
            locations=Words({*raw["locations"], *made["places"]}),
            major_locations=Words({*raw["locations"], *made["major_places"]}),
            ordinary=frozenset({*made["ordinary"], *STOP_WORDS, *hand_ordinary, *never}),
            ambiguous=frozenset({*made["ambiguous"], *hand_ambiguous}),
            everyday=frozenset({*made["everyday"], *STOP_WORDS, *never}),
            never=never,
            not_name_words=frozenset(raw["not_name_words"]),
            not_cued_name_words=frozenset(raw["not_cued_name_words"]) | STOP_WORDS,
            verbs_after_names=frozenset(raw["verbs_after_names"]),
            ner_stop_terms=frozenset(raw["ner_stop_terms"]),
            products=products_only,
            calendar=frozenset({*raw["calendar_names"], *raw["not_places"]}),
            english=frozenset(made["english"]),
            jargon_parts=frozenset(raw["jargon_parts"]),
        )

    def __post_init__(self) -> None:
        known = frozenset.union(self.first_names, self.surnames, self.locations)
        # One look-up for the question asked of every lower-case word. A word with accents
        # is no English word, so it is proper whatever its accent-free twin is ("pär", "par").
        # Set operations, not a loop: this runs at every worker's start.
        everyday = self.ordinary | self.ambiguous
        accented = {w for w in known & everyday if not w.isascii()}
        object.__setattr__(self, "_proper", Words((known - everyday) | accented))
        english = everyday | self.everyday | self.english | self.products | self.ner_stop_terms
        object.__setattr__(self, "_english", english | self.not_cued_name_words | self.never)
        # Every everyday word with one letter left out: what a dropped letter makes of it.
        slips = {
            w[:i] + w[i + 1 :] for w in self.everyday if len(w) > _MIN_TYPO_LENGTH for i in range(len(w))
        }
        object.__setattr__(self, "_slips", frozenset(slips))

    def foreign_among(self, words: Iterable[str]) -> set[str]:
        """The foreign words among lower-cased ``words``; one set difference (in C) drops
        the English ones first, so a sentence of everyday words costs no Python per word."""
        return {w for w in set(words) - self._english if self.foreign(w)}

    def foreign(self, word: str) -> bool:
        """A lower-cased word that is no English word of any kind, no product and no known
        name or place, nor shaped like an English verb or plural: read as a name people
        would have capitalised ("dainess", "wamwema")."""
        return (
            3 < len(word) <= MAX_NAME_LENGTH  # a run of letters longer than any name is no name
            and word not in self._english
            and not self.knows(word)
            and not (word.isascii() and word.endswith(ENGLISH_SUFFIXES))
            and not self.compound(word)
            and not self._typo(word)
        )

    def _typo(self, word: str) -> bool:
        """One slip of the keyboard away from an everyday word: a letter dropped ("smple"),
        doubled or added ("doouble"), swapped with its neighbour ("totla", "yesterdya") or
        mistyped ("meetimg"). Chat is typed in a hurry; names are not typos of words."""
        if not (_MIN_TYPO_LENGTH <= len(word) <= _MAX_TYPO_LENGTH) or not word.isascii():
            return False
        everyday = self.everyday
        if word in self._slips:
            return True
        for i in range(len(word)):
            if word[:i] + word[i + 1 :] in everyday:
                return True
            if i + 1 < len(word) and word[:i] + word[i + 1] + word[i] + word[i + 2 :] in everyday:
                return True
            if any(word[:i] + c + word[i + 1 :] in everyday for c in _LETTERS if c != word[i]):
                return True
        return False

    def compound(self, word: str) -> bool:
        """Two everyday English words run together ("runbook", "backoff", "healthcheck"),
        or a piece of software jargon and a word or another piece ("kubectl", "tsconfig",
        "pyproject"): jargon the corpus behind the lists is too old to know, not a name."""
        if len(word) > MAX_NAME_LENGTH:
            return False  # bounded: the cuts below are quadratic in the length
        everyday, jargon = self.everyday, self.jargon_parts
        for cut in range(2, len(word) - 1):
            head, tail = word[:cut], word[cut:]
            if (head in jargon or (len(head) > 2 and head in everyday)) and (
                tail in jargon or (len(tail) > 2 and tail in everyday)
            ):
                return True
        return False

    def knows(self, word: str) -> bool:
        """A lower-cased word that is a first name, a surname or a place."""
        return word in self.first_names or word in self.surnames or word in self.locations

    def proper(self, word: str) -> bool:
        """A lower-cased word that is a name or place and nothing else: people write it
        capitalised (the case of a chat message may be lost, this is not)."""
        return len(word) > 2 and word in self._proper

    def after_given_name(self, text: str, start: int) -> bool:
        """The word at ``start`` follows a given name and one space ("daniel marchand",
        "AMBER BURKE"): it is the surname, even where a village somewhere has that name. A
        given name that is also a major place ("Paris", "Jordan") says nothing."""
        match = LAST_WORD.search(text, max(0, start - 24), start)
        if match is None:
            return False
        low = match.group(1).lower()
        return (
            low in self.first_names
            and low not in self.ordinary
            and low not in self.not_name_words
            and (low not in self.major_locations or low in self.common_first_names)
        )

    def plain(self, low: str) -> bool:
        """A name-like word that is no everyday word either."""
        return self.strength(low) == 2 and low not in self.everyday

    def strength(self, word: str) -> int:
        """0: an everyday word, 1: often both, 2: a name-like word."""
        if word in self.ordinary:
            return 0
        return 1 if word in self.ambiguous else 2

    @staticmethod
    def people_from_csv(path: Path, column: str = "name") -> list[str]:
        """Full names from a directory export such as an org chart (one row per person)."""
        with path.open(newline="", encoding="utf-8") as handle:
            return [row[column] for row in csv.DictReader(handle) if row.get(column)]
