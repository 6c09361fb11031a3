"""Gazetteer recognizer for PERSON and LOCATION.

The small spaCy model finds capitalised names in well-formed prose but misses lower-case
names ("ask sarah about it") and many first-name-only mentions, which are common in chat.
A gazetteer of first names, surnames and places, with a few rules about capitalisation,
titles ("Dr.") and labels ("Name:"), recovers those at the cost of a dictionary lookup per
word. Words that are also ordinary English ("will", "grace", "nice") need more evidence.
"""

from __future__ import annotations

import csv
import gzip
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from itertools import pairwise
from pathlib import Path

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from spacy.lang.en.stop_words import STOP_WORDS

from guard.normalize import fold
from guard.recognizers import cues

_WORD = re.compile(r"[^\W\d_]+(?:['\u2019-][^\W\d_]+)*")  # O'Brien, O\u2019Brien, Smith-Jones
_CONTRACTION = re.compile(r"['\u2019](?:s|re|ll|ve|d|m|t)$")
_PARTICLES = frozenset(
    {"van", "von", "de", "der", "den", "da", "di", "du", "la", "le", "del", "dos", "ter", "ten"}
)
MAX_NAME_WORDS = 4
# Endings of English verbs, plurals and abstract nouns ("procurement", "onboarding"): an
# unknown word ending so is no surname.
_ENGLISH_SUFFIXES = ("ed", "ing", "s", "ment", "tion", "sion", "ness", "ity", "ance", "ence", "ship", "ops")
_LISTED_BEFORE = re.compile(r"(?<![\w@/\\])([^\W\d_]+)\s*(?:,|\bor\b|\band\b|&|/)\s*$", re.IGNORECASE)
_LISTED_AFTER = re.compile(r"\s*(?:,|or\b|and\b|&|/)\s*([^\W\d_]+)(?![\w@/\\])", re.IGNORECASE)
# Abbreviations of "saint" in place names, and the spellings the lists use.
_SAINT = {
    "st": ("saint", "sankt", "san", "santa", "st.", "st"),
    "ste": ("sainte", "ste.", "ste"),
    "sta": ("santa", "sta."),
}
_PREFIX_PLACES = 20  # distinct two-word starts of places that make a word a place prefix
GENERATED = "gazetteer.json.gz"  # guard/data, made by ``python -m guard.data.build``

Word = tuple[int, int, str]


# A word glued to "@", "/", "_", "\\" or a digit is part of an e-mail address, a handle, a
# path or an identifier ("mattia18@example.com", "@channel", "/var/log/ana"): no name.
_NAME_WORD = re.compile(r"(?<![\w@/\\])" + _WORD.pattern + r"(?![\w@/\\])")
_LAST_WORD = re.compile(r"(?<![\w@/\\])([^\W\d_]+) $")
_POSSESSIVE = ("'s", "\u2019s", "'S", "\u2019S")
# "@Thabisile", "@nyuki mutai": a mention, not an e-mail address or a handle with digits.
_MENTION = re.compile(r"(?<![\w@.])@([^\W\d_]{2,})(?: ([^\W\d_]{2,}))?(?![\w@.-])")


def _words(text: str) -> list[Word]:
    """The words that may be names, a possessive 's cut off ("Mrs. İnönü's payment")."""
    words = []
    for match in _NAME_WORD.finditer(text):
        start, end = match.span()
        word = match.group()
        if word[-2:] in _POSSESSIVE and len(word) > 3:
            word, end = word[:-2], end - 2
        words.append((start, end, word))
    return words


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
    _proper: Words = field(default_factory=Words, repr=False, compare=False)
    _english: frozenset[str] = field(default_factory=frozenset, repr=False, compare=False)

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

    def foreign(self, word: str) -> bool:
        """A lower-cased word that is no English word of any kind, no product and no known
        name or place, nor shaped like an English verb or plural: read as a name people
        would have capitalised ("dainess", "wamwema")."""
        return (
            len(word) > 3
            and word not in self._english
            and not self.knows(word)
            and not (word.isascii() and word.endswith(_ENGLISH_SUFFIXES))
            and not self._compound(word)
        )

    def _compound(self, word: str) -> bool:
        """Two everyday English words run together ("runbook", "backoff", "healthcheck"):
        jargon the corpus behind the lists is too old to know, not a name."""
        everyday = self.everyday
        return any(word[:cut] in everyday and word[cut:] in everyday for cut in range(3, len(word) - 2))

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
        match = _LAST_WORD.search(text, max(0, start - 24), start)
        if match is None:
            return False
        low = match.group(1).lower()
        return (
            low in self.first_names
            and low not in self.ordinary
            and low not in self.not_name_words
            and (low not in self.major_locations or low in self.common_first_names)
        )

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


class GazetteerRecognizer(EntityRecognizer):
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
        super().__init__(supported_entities=["PERSON", "LOCATION"], name="skein_gazetteer")

    def load(self) -> None:
        return None

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        words = _words(text)
        results: list[RecognizerResult] = []
        if "PERSON" in entities:
            results.extend(self._people(text, words))
            results.extend(self._mentions(text))
        if "LOCATION" in entities:
            results.extend(self._places(text, words))
        return results

    def _people(self, text: str, words: list[Word]) -> list[RecognizerResult]:
        results = []
        everyday = self._gaz.everyday
        index = 0
        while index < len(words):
            word = words[index][2]
            if word.islower() and word in everyday:
                index += 1  # no rule makes a lower-case everyday word start a name: skip the checks
                continue
            found = self._person_at(text, words, index)
            if found is None:
                index += 1
                continue
            last, score = found
            results.append(RecognizerResult("PERSON", words[index][0], words[last][1], score))
            index = last + 1
        return results

    def _mentions(self, text: str) -> list[RecognizerResult]:
        """A chat mention of a person: "@Thabisile", "@nyuki mutai". Only a given name or a
        word of no language the lists know; "@here", "@channel", "@devops" are no people."""
        results = []
        for match in _MENTION.finditer(text):
            first, second = match.group(1), match.group(2)
            low = first.lower()
            if low in self._gaz.never or not (self._name_word(low) or self._gaz.foreign(low)):
                continue
            end = match.end(1)
            if second and (self._surname_word(second.lower()) or self._gaz.foreign(second.lower())):
                end = match.end(2)
            results.append(RecognizerResult("PERSON", match.start(1), end, 0.7))
        return results

    def _surname_word(self, low: str) -> bool:
        return low in self._gaz.surnames and self._gaz.strength(low) == 2 and low not in self._gaz.everyday

    def _name_word(self, low: str) -> bool:
        return (
            low in self._gaz.first_names and low not in self._gaz.ordinary and low not in self._gaz.products
        )

    def _person_at(self, text: str, words: list[Word], i: int) -> tuple[int, float] | None:
        start, _, word = words[i]
        low, capital = word.lower(), word[0].isupper()
        if (word.isupper() and len(word) > 1) or low in self._gaz.never or _CONTRACTION.search(low):
            return None  # an acronym (shouted sentences arrive in lower case: guard.casing)
        if self._after_title(text, words, i) and (capital or low not in self._gaz.everyday):
            # "Dr. Wheeler" (not the town), "mr. meister", "Mrs. van der Brink"
            return self._extend(text, words, i, capital=True), 0.9
        if low in self._gaz.not_cued_name_words:
            return None  # a function word ("Is", "And") never starts a name
        # After a label an everyday word is a name only if it is also a given name:
        # "Name: Will", not "a file called Final".
        if cues.label_before(text, start) and (
            low not in self._gaz.everyday or (capital and low in self._gaz.first_names)
        ):
            return self._extend(text, words, i, capital=capital), 0.85  # "Name: X", "i am puk"
        if low not in self._gaz.first_names:
            if cues.strong_place_before(text, start):
                return None  # "the parcel to Horní Bříza", "lives in Vejby": a place
            if self._before_surname(text, words, i) or self._cued(text, words, i, capital):
                return self._extend(text, words, i, capital), 0.6
            return None
        last = self._extend(text, words, i, capital)
        if not (
            self._enough_evidence(text, words, i, last) or self._followed_by_cue(text, words[last][1], low)
        ):
            return None
        if last > i:
            # A given name and a known surname ("Brandon Sutton") outrank a town named Sutton.
            return last, 0.9 if words[last][2].lower() in self._gaz.surnames else 0.8
        return last, 0.65 if capital else 0.55

    def _followed_by_cue(self, text: str, end: int, low: str) -> bool:
        """ "add austin garza ana@x.org", "austin said": even a given name that is also a word."""
        return low not in self._gaz.never and (
            cues.email_after(text, end) or cues.speaker_after(text, end) or cues.owner_after(text, end)
        )

    def _enough_evidence(self, text: str, words: list[Word], i: int, last: int) -> bool:
        """A known first name alone is a person if it is nothing else; a word that is also
        an everyday word or a major place needs a surname, a capital or a cue."""
        start, _, word = words[i]
        low, capital = word.lower(), word[0].isupper()
        strength = self._gaz.strength(low)
        followed = last > i and self._gaz.strength(words[i + 1][2].lower()) > 0
        if cues.determiner_before(text, start):
            return False  # "the Asana project", "the Monty Hall problem": a thing, not a person
        if strength == 0:  # "Will Smith", not "New Relic"
            surname = words[i + 1][2].lower() if last > i else ""
            if surname not in self._gaz.surnames or surname in self._gaz.everyday:
                return False
            if capital:
                return self._gaz.strength(surname) == 2
            # Lower case or shouted: a cue and a surname ("who is luz milagros", "ask will smith").
            return self._gaz.strength(surname) > 0 and cues.person_before(text, start)
        if strength == 1:
            if last > i and self._gaz.strength(words[i + 1][2].lower()) == 0:
                return False  # "Rose Gold", "Red Rock": a capitalised phrase, not a name
            if cues.place_before(text, start) and not followed:
                return False  # "left in June", "expect 2000 in April"
            after_start = cues.sentence_start(text, start)
            # A surname that is nothing but a name ("amber burke", shouted "AMBER BURKE")
            # is evidence in any case; "rose gold" has none.
            surname = words[last][2].lower() if last > i else ""
            strong_surname = surname in self._gaz.surnames and self._proper_word(surname)
            return (
                (capital and (followed or not after_start))
                or (not capital and cues.person_before(text, start))
                or (strong_surname and surname not in self._gaz.major_locations)
            )
        if low in self._gaz.major_locations and last == i and low not in self._gaz.common_first_names:
            return cues.person_before(text, start)
        return True

    def _surname_like(self, low: str) -> bool:
        """A lower-case word after a lower-case first name that is probably its surname:
        not a function word, not a verb-looking word, not a place."""
        if (
            len(low) < 3
            or low in self._gaz.not_cued_name_words
            or low in self._gaz.everyday
            or low in self._gaz.verbs_after_names
            or low in self._gaz.locations
        ):
            return False
        if low in self._gaz.first_names:
            return False  # "ask emma and david" lists two people
        # The suffixes of English verbs, plurals and nouns; a known surname or a word with
        # accents ("cárdenas") is no English word.
        return low in self._gaz.surnames or not low.isascii() or not low.endswith(_ENGLISH_SUFFIXES)

    def _before_surname(self, text: str, words: list[Word], i: int) -> bool:
        """An unknown given name followed by a known surname: "Priyanka Smith", "siobhan kowalski"."""
        if i + 1 >= len(words) or text[words[i][1] : words[i + 1][0]] != " ":
            return False
        word, nxt = words[i][2], words[i + 1][2]
        low, next_low = word.lower(), nxt.lower()
        if (
            low in self._gaz.not_cued_name_words
            or low in self._gaz.not_name_words
            or low in self._gaz.everyday
            or len(low) < 3
            or low in self._gaz.locations
        ):
            return False
        if next_low not in self._gaz.surnames or self._gaz.strength(next_low) < 2:
            return False
        return word[0].isupper() == nxt[0].isupper()

    def _cued(self, text: str, words: list[Word], i: int, capital: bool) -> bool:
        """An unknown word after "thanks", "ask", "text" ... (lower case: the model finds
        capitalised ones), or right before an e-mail address ("add Terézia ana@x.org") or
        a verb of saying ("martaka utama said", "> Ana Ruiz wrote:")."""
        start, end, word = words[i]
        if not self._surname_like(word.lower()):
            return False
        # A cue after the word is weaker evidence: not "not json ann@x.org", "the api said".
        if self._gaz.strength(word.lower()) == 2 and (
            cues.email_after(text, end)
            or cues.speaker_after(text, end)
            or (word.lower() not in self._gaz.products and cues.owner_after(text, end))
            or (self._gaz.foreign(word.lower()) and cues.person_predicate_after(text, end))
        ):
            return True
        nxt = words[i + 1] if i + 1 < len(words) else None
        two_words = (
            nxt is not None
            and text[end : nxt[0]] == " "
            and nxt[2][0].isupper() == capital
            and self._surname_like(nxt[2].lower())
            and self._gaz.strength(nxt[2].lower()) == 2
            and (
                cues.email_after(text, nxt[1])
                or cues.speaker_after(text, nxt[1])
                or (self._gaz.foreign(nxt[2].lower()) and cues.person_predicate_after(text, nxt[1]))
            )
        )
        # A capitalised word after a cue is usually found by the model; where it is not
        # ("Best regards,\nGélinas") it must be no word of any English kind.
        cued = cues.person_before(text, start) and (not capital or self._gaz.strength(word.lower()) == 2)
        return two_words or cued

    def _after_title(self, text: str, words: list[Word], i: int) -> bool:
        if i == 0:
            return False
        _, prev_end, prev = words[i - 1]
        if prev.lower() not in cues.TITLES or text[prev_end : words[i][0]] not in (" ", ". ", "."):
            return False
        word = words[i][2]
        return word[0].isupper() or word.lower() not in self._gaz.not_cued_name_words or word in _PARTICLES

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
                or (nxt.islower() and (low in self._gaz.not_cued_name_words or low in self._gaz.everyday))
            ):
                break
            last += 1
        return last

    def _places(self, text: str, words: list[Word]) -> list[RecognizerResult]:
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
            return True
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
        before = _LAST_WORD.search(text, max(0, start - 24), start)
        return before is not None and fold(before.group(1).lower()) not in self._place_prefixes

    def _proper_word(self, low: str) -> bool:
        return self._gaz.strength(low) == 2 and low not in self._gaz.everyday

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
        if len(span) > 1:
            if span[-1][2].lower() in self._gaz.not_cued_name_words:
                return False
            # "new york" has a word that is only a name; "golden gate" needs its capitals
            # ("Mar del Plata": every word but a particle capitalised) or a preposition.
            titled = all(w[2][0].isupper() or w[2] in _PARTICLES for w in span)
            return titled or cue or any(self._proper_word(w[2].lower()) for w in span)
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
        return (
            low in self._gaz.major_locations and self._proper_word(low) and low not in self._gaz.first_names
        )
