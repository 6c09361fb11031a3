"""Turns the spaCy entities computed by the NLP engine into Presidio results."""

from __future__ import annotations

import re

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from guard.recognizers import cues
from guard.recognizers.gazetteer import Gazetteer

LABELS: dict[str, str] = {
    "PERSON": "PERSON",
    "GPE": "LOCATION",
    "LOC": "LOCATION",
    "FAC": "LOCATION",
    "ORG": "ORGANIZATION",
}
SCORES: dict[str, float] = {"PERSON": 0.85, "LOCATION": 0.85, "ORGANIZATION": 0.7}
# Characters a real name or place never contains: the small model sometimes labels
# identifiers, handles and versions.
_NOT_IN_NAME = frozenset("@/\\_:=<>{}[]#$%0123456789")
_ODD_CAPS = re.compile(r"\w[A-Z]\w*[A-Z]")
# A capital inside a word after a lower-case letter, where the word does not start with a
# surname prefix: product names are written that way, surnames only after Mc, Mac, O', De ...
_CAMEL = re.compile(r"\b(?!(?:Mc|Mac|De|Di|Da|Du|La|Le|Van|Von|St|Fitz)[A-Z])[A-Z]?[a-z]+[A-Z]")
_PARTICLES = frozenset(
    {"van", "von", "de", "der", "den", "da", "di", "du", "la", "le", "del", "dos", "ter", "y"}
)


class SpacyNerRecognizer(EntityRecognizer):
    def __init__(self, gazetteer: Gazetteer, stop_terms: frozenset[str] = frozenset()) -> None:
        self._gaz = gazetteer
        self._stop_terms = gazetteer.ner_stop_terms | stop_terms
        super().__init__(supported_entities=sorted(set(LABELS.values())), name="skein_spacy_ner")

    def load(self) -> None:
        return None

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        if nlp_artifacts is None:
            return []
        results = []
        for ent in nlp_artifacts.entities:
            entity = LABELS.get(ent.label_)
            if entity == "ORGANIZATION" and self._org_is_place(text, ent.start_char, ent.text):
                entity = "LOCATION"
            elif entity == "ORGANIZATION" and self._org_is_person(text, ent.end_char, ent.text):
                entity = "PERSON"
            if entity is None or entity not in entities:
                continue
            tokens = list(ent)
            while tokens and (tokens[0].is_punct or self._filler(tokens[0].lower_.rstrip("."))):
                tokens.pop(0)
            while tokens and (tokens[-1].is_punct or tokens[-1].lower_ in ("'s", "\u2019s")):
                tokens.pop()
            if not tokens:
                continue
            start, end = tokens[0].idx, tokens[-1].idx + len(tokens[-1])
            if entity in ("LOCATION", "PERSON") and self._attributive(text, start, end):
                continue  # "Brussels sprouts", "Caesar salad", "Zurich insurance": no place, no one
            if self._plausible(text, start, end, entity):
                entity = self._relabel(text, start, end, entity)
                if entity == "PERSON" and cues.determiner_before(text, start):
                    continue  # "the Monty Hall problem", "the Asana project": named things
                results.append(RecognizerResult(entity, start, end, SCORES[entity]))
        return results

    @staticmethod
    def _attributive(text: str, start: int, end: int) -> bool:
        return cues.attributive_after(text, end) and not cues.place_before(text, start, strict=True)

    @staticmethod
    def _place_slot(text: str, start: int, end: int) -> bool:
        """A preposition of place, "X office", or a list or signature field ("Manager |
        Quemchi", "(landline, Quemchi)") where towns stand without one."""
        before = text[max(0, start - 3) : start].rstrip()
        return cues.place(text, start, end) or before.endswith(("|", "(", ","))

    def _foreign_name(self, value: str) -> bool:
        """Words in no list and none of them English: an unfamiliar name, not a known place."""
        return value not in self._gaz.locations and all(self._gaz.foreign(w) for w in value.split())

    def _everyday_phrase(self, words: list[str]) -> bool:
        """Every word an everyday English word, the first at most also a name ("Rose Gold";
        not "Will Smith", whose surname is no everyday word)."""
        return self._gaz.strength(words[0]) < 2 and all(w in self._gaz.everyday for w in words[1:])

    def _org_is_place(self, text: str, start: int, value: str) -> bool:
        """The small model reads an unknown town after "from" or "in" as an organisation
        ("someone from Šambron"); one word after such a preposition is a place unless it
        is a product or an everyday word."""
        low = value.lower()
        if value.isupper() or any(
            w in self._gaz.products or w in self._gaz.everyday or w in self._stop_terms for w in low.split()
        ):
            return False
        if " " in low:  # "the parcel to Horní Bříza": several words only after a verb of travel
            return cues.strong_place_before(text, start)
        return cues.place_before(text, start, strict=True) or cues.strong_place_before(text, start)

    def _org_is_person(self, text: str, end: int, value: str) -> bool:
        """The small model reads an unfamiliar name as an organisation ("Londisizwe will
        run the standup"); foreign words before what only people do are a person."""
        return self._foreign_name(value.lower()) and cues.person_predicate_after(text, end)

    def _filler(self, low: str) -> bool:
        """A word the small model swallows into a name: "Is Auvergne", "Hi Sarah", "Draft"."""
        if low in cues.TITLES or low in self._gaz.never:
            return True
        return low in self._gaz.everyday and low not in self._gaz.first_names

    def _plausible(self, text: str, start: int, end: int, entity: str) -> bool:
        """Drop the small model's typical mistakes; each rule costs little recall because
        the gazetteer recognizer still catches known names written this way."""
        value = text[start:end]
        words = value.lower().split()
        if _NOT_IN_NAME.intersection(value) or re.search(r"\.[a-z]", value):
            return False
        if any(w in self._stop_terms for w in words) or not value[0].isupper():
            return False
        # Product words are no person or place, but are organisations (opt-in).
        if entity != "ORGANIZATION" and any(w in self._gaz.products for w in words):
            return False
        if _ODD_CAPS.search(value) or (value.isupper() and " ".join(words) not in self._gaz.locations):
            return False
        if any(w.islower() and w not in _PARTICLES for w in value.split()[1:]):
            return False  # "Mark the Netlify": a name holds no lower-case word but "van", "de"
        if entity == "PERSON" and len(words) > 1 and self._everyday_phrase(words):
            return False  # "Rose Gold", "Space Black": capitalised everyday words
        if _CAMEL.search(value):
            return False  # "MacBook", "ThinkPad", "SendGrid" (not "McDonald", "MacKenzie")
        return len(words) > 1 or self._lone_word_ok(text, start, end, words[0], entity)

    def _lone_word_ok(self, text: str, start: int, end: int, low: str, entity: str) -> bool:
        """A single capitalised word is weak evidence: at a sentence start or before a colon
        it may be capitalised for that reason only ("Lorem", "Email:"), and a word that is
        also an everyday word ("Frank feedback", "Bill the client", "the August numbers")
        is a name only after a cue ("thanks Frank", "Name: Bill")."""
        if self._filler(low) and low not in self._gaz.locations:
            return False  # "Draft", "Monday", "German"
        at_start = cues.sentence_start(text, start) or text[end : end + 1] == ":"
        if entity == "ORGANIZATION":
            return self._gaz.knows(low) or not at_start
        cued = cues.person_before(text, start) or cues.label_before(text, start)
        strength = self._gaz.strength(low)
        if strength == 0 and not cued:
            return False
        if strength == 1 and at_start and not cued:
            return False
        # A word of no language the lists know is a name wherever it stands ("Londisizwe
        # will run the standup"): its capital is not what says so.
        return self._gaz.knows(low) or not at_start or self._gaz.foreign(low)

    def _relabel(self, text: str, start: int, end: int, entity: str) -> str:
        """The small model often swaps PERSON and LOCATION on unfamiliar words ("Nadia" as a
        place, "Ghent" or "Caldas da Rainha" as a person); the word lists and a preposition
        decide. Almost every given name is also some village somewhere, so only a major
        place or a preposition makes a known given name a place."""
        if entity not in ("PERSON", "LOCATION"):
            return entity
        value = " ".join(text[start:end].lower().split())
        given = value.split()[0]
        # "to" and "for" precede people as often as places ("a note to Artur").
        strict = cues.place(text, start, end, strict=True)
        strong = cues.strong_place_before(text, start)
        # "the parcel to Pečeňany", "flight to Baškovce": a verb of travel says place ...
        cue = strict or strong
        name_like = given in self._gaz.first_names and self._gaz.strength(given) > 0
        if strict and strong and value not in self._gaz.common_first_names:
            return "LOCATION"  # ... and "lives in Vavrinec" even for a word that is also a name
        if entity == "LOCATION":
            if (
                not name_like
                and self._foreign_name(value)
                and (cues.person_before(text, start) or not self._place_slot(text, start, end))
            ):
                return "PERSON"  # "thanks Wairimbe": the model's "place" has nothing behind it
            if not name_like or (cue and value in self._gaz.locations):
                return entity
            if value not in self._gaz.locations:
                return "PERSON"  # "Sofia Rossi", "complaint from Siobhan"
            if " " in value:  # "San Francisco"; but "Maria Helena" is a woman before a village
                common = given in self._gaz.common_first_names and value not in self._gaz.major_locations
                return "PERSON" if common else entity
            if value not in self._gaz.major_locations or value in self._gaz.common_first_names:
                return "PERSON"  # "belongs to Amalia", "a note for Daniel"
            return entity
        known_place = value in self._gaz.locations
        if (known_place and cue) or (not name_like and (known_place or cue)):
            return "LOCATION"  # "lives in Florence", "delivery to Ghent"; not "a note for Daniel"
        return entity
