"""Precision / recall / F1 of the detector over a labeled JSONL set, and the baseline check.

Matching: a detection is a true positive when it has the gold span's entity type and
overlaps it; each gold span is matched at most once. Entities outside the evaluated set
(ORGANIZATION by default) are ignored on both sides.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from guard.detector import Detector
from guard.policy import DEFAULT_ENTITIES, Detection, GuardPolicy, Mode

TOLERANCE = 0.005  # a drop smaller than this is noise in a few hundred messages

# The product's accuracy targets (issue 5, docs/guard.md): figure name -> minimum.
TARGETS: dict[str, float] = {
    **{
        f"{entity}.recall": 0.99
        for entity in ("EMAIL_ADDRESS", "CREDIT_CARD", "US_SSN", "IBAN_CODE", "IP_ADDRESS", "PHONE_NUMBER")
    },
    "PERSON.recall": 0.90,
    "PERSON_lowercase.recall": 0.90,
    "LOCATION.recall": 0.85,
    "OVERALL.precision": 0.90,
    "clean_share": 0.95,
}


@dataclass(frozen=True, slots=True)
class Sample:
    text: str
    spans: tuple[tuple[str, int, int], ...]


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass
class Report:
    per_entity: dict[str, Score] = field(default_factory=dict)
    clean_total: int = 0
    clean_untouched: int = 0
    lowercase_person: Score = field(default_factory=Score)  # recall on names written in lower case

    @property
    def overall(self) -> Score:
        total = Score()
        for score in self.per_entity.values():
            total.tp, total.fp, total.fn = total.tp + score.tp, total.fp + score.fp, total.fn + score.fn
        return total

    @property
    def clean_share(self) -> float:
        return self.clean_untouched / self.clean_total if self.clean_total else 1.0

    def figures(self) -> dict[str, float]:
        """Flat name -> value, the shape of the committed baseline."""
        out = {"clean_share": round(self.clean_share, 4)}
        for name, score in [*sorted(self.per_entity.items()), ("OVERALL", self.overall)]:
            for metric in ("precision", "recall", "f1"):
                out[f"{name}.{metric}"] = round(getattr(score, metric), 4)
        if self.lowercase_person.tp + self.lowercase_person.fn:
            out["PERSON_lowercase.recall"] = round(self.lowercase_person.recall, 4)
        return out

    def table(self) -> str:
        lines = [f"{'entity':<16}{'prec':>8}{'recall':>8}{'f1':>8}{'tp':>6}{'fp':>6}{'fn':>6}"]
        for name, s in [*sorted(self.per_entity.items()), ("OVERALL", self.overall)]:
            lines.append(
                f"{name:<16}{s.precision:>8.3f}{s.recall:>8.3f}{s.f1:>8.3f}{s.tp:>6}{s.fp:>6}{s.fn:>6}"
            )
        lower = self.lowercase_person
        lines.append(
            f"lower-case PERSON names found: {lower.tp}/{lower.tp + lower.fn} (recall {lower.recall:.3f})"
        )
        lines.append(
            f"clean messages with no detection: {self.clean_untouched}/{self.clean_total} "
            f"({self.clean_share:.1%})"
        )
        return "\n".join(lines)


def load_samples(path: Path) -> list[Sample]:
    samples = []
    for line in path.read_text("utf-8").splitlines():
        if line.strip():
            row: dict[str, Any] = json.loads(line)
            spans = tuple((s["entity"], int(s["start"]), int(s["end"])) for s in row["spans"])
            samples.append(Sample(row["text"], spans))
    return samples


def evaluate(
    detector: Detector,
    samples: Sequence[Sample],
    entities: frozenset[str] = DEFAULT_ENTITIES,
    batch: int = 64,
) -> Report:
    policy = GuardPolicy(mode=Mode.DETECT, entities=entities)
    report = Report(per_entity={e: Score() for e in sorted(entities)})
    for offset in range(0, len(samples), batch):
        chunk = samples[offset : offset + batch]
        found = detector.detect([s.text for s in chunk], policy)
        for sample, detections in zip(chunk, found, strict=True):
            _score(report, sample, [d for d in detections if d.entity in entities])
    return report


def _score(report: Report, sample: Sample, detections: Iterable[Detection]) -> None:
    gold = [g for g in sample.spans if g[0] in report.per_entity]
    predicted = list(detections)
    if not gold:
        report.clean_total += 1
        report.clean_untouched += not predicted
    matched: set[int] = set()
    for det in predicted:
        hit = next(
            (
                i
                for i, (e, s, t) in enumerate(gold)
                if i not in matched and e == det.entity and det.start < t and s < det.end
            ),
            None,
        )
        if hit is None:
            report.per_entity[det.entity].fp += 1
        else:
            matched.add(hit)
            report.per_entity[det.entity].tp += 1
    for i, (entity, start, end) in enumerate(gold):
        if i not in matched:
            report.per_entity[entity].fn += 1
        value = sample.text[start:end]
        if entity == "PERSON" and value == value.lower():
            if i in matched:
                report.lowercase_person.tp += 1
            else:
                report.lowercase_person.fn += 1


def regressions(figures: Mapping[str, float], baseline: Mapping[str, float]) -> list[str]:
    """Names of figures that fell below the baseline by more than the tolerance."""
    return [
        f"{name}: {figures.get(name, 0.0):.4f} < baseline {value:.4f}"
        for name, value in sorted(baseline.items())
        if figures.get(name, 0.0) < value - TOLERANCE
    ]


def target_report(figures: Mapping[str, float]) -> tuple[list[str], bool]:
    """One line per target (met or MISSED) and whether all are met."""
    lines, met = [], True
    for name, minimum in TARGETS.items():
        value = figures.get(name)
        ok = value is not None and value >= minimum
        met = met and ok
        shown = "n/a" if value is None else f"{value:.3f}"
        lines.append(f"  {'met   ' if ok else 'MISSED'} {name:<26} {shown:>6}  (target >= {minimum:.2f})")
    return lines, met
