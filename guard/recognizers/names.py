"""Gazetteer recognizer for PERSON and LOCATION: the word-list rules of ``people`` and
``places`` as one Presidio recognizer, over the words of ``tokens``."""

from __future__ import annotations

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from guard.recognizers.gazetteer import Gazetteer
from guard.recognizers.people import PeopleRules
from guard.recognizers.places import PlaceRules
from guard.recognizers.tokens import words


class GazetteerRecognizer(EntityRecognizer):
    def __init__(self, gazetteer: Gazetteer) -> None:
        self._people = PeopleRules(gazetteer)
        self._places = PlaceRules(gazetteer)
        super().__init__(supported_entities=["PERSON", "LOCATION"], name="skein_gazetteer")

    def load(self) -> None:
        return None

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        found = words(text)
        results: list[RecognizerResult] = []
        if "PERSON" in entities:
            results.extend(self._people.find(text, found))
            results.extend(self._people.mentions(text))
        if "LOCATION" in entities:
            results.extend(self._places.find(text, found))
        return results
