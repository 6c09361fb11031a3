"""`skein guard eval`: precision / recall / F1 of the PII guard on labeled sets.

By default seven sets are measured, each with its role stated, because a figure means
something only next to how its data was used:

* ``regression``    tests/data/pii_eval.jsonl: the first set; earlier rules were tuned on it;
* ``development``   tests/data/pii_dev.jsonl: the rules of issue 15 were tuned on it;
* ``development-2`` tests/data/pii_dev2.jsonl: round 2 of issue 15 was tuned on it (other
  sources, chat styles, clean messages full of capitalised words that are not names);
* ``held-out``      tests/data/pii_holdout.jsonl: never tuned on (other sources, templates
  and styles); the honest estimate of accuracy on unseen text;
* ``check``         tests/data/pii_check.jsonl: a second set never tuned on (its figures
  are read, its misses are not), made in round 2 with yet other sources.

``--data PATH`` (repeatable) measures other sets instead. Exit codes: 0 when every
accuracy target is met on every set and no figure fell below the baseline, 1 on a missed
target or a regression, 2 for a missing or unreadable data set or baseline.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

from gateway.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, fail
from guard.detector import Detector, DetectorSettings
from guard.evaluation import Sample, evaluate, load_samples, regressions, target_report

_DATA = Path(__file__).resolve().parents[2] / "tests" / "data"
DEFAULT_BASELINE = _DATA / "pii_eval_baseline.json"


@dataclass(frozen=True, slots=True)
class EvalSet:
    name: str
    path: Path
    role: str


DEFAULT_SETS = (
    EvalSet("regression", _DATA / "pii_eval.jsonl", "regression set: earlier rules were tuned on it"),
    EvalSet("development", _DATA / "pii_dev.jsonl", "development set: the current rules were tuned on it"),
    EvalSet(
        "development-2", _DATA / "pii_dev2.jsonl", "second development set: rounds 2 and 3 were tuned on it"
    ),
    EvalSet("development-3", _DATA / "pii_dev3.jsonl", "third development set: round 4 was tuned on it"),
    EvalSet(
        "held-out",
        _DATA / "pii_holdout.jsonl",
        "held-out set: never tuned on (its generator's SSN shapes informed one round-4 fix)",
    ),
    EvalSet("check", _DATA / "pii_check.jsonl", "check set: never tuned on, only its figures are read"),
    EvalSet(
        "check-2",
        _DATA / "pii_check2.jsonl",
        "second check set: never tuned on, made apart from the rules, only its figures are read",
    ),
)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    guard = commands.add_parser("guard", help="PII guard tools")
    actions = guard.add_subparsers(dest="guard_command", required=True, metavar="ACTION")
    run = actions.add_parser("eval", help="measure detection on labeled sets and compare with a baseline")
    run.add_argument(
        "--data", type=Path, action="append", help="labeled JSONL (repeatable; default: the seven sets)"
    )
    run.add_argument("--baseline", type=Path, default=DEFAULT_BASELINE, help="baseline JSON to compare with")
    run.add_argument("--model", default=DetectorSettings().model, help="spaCy model package name")
    run.add_argument("--write-baseline", action="store_true", help="write the figures to --baseline")
    run.set_defaults(handler=_eval)


def _sets(args: argparse.Namespace) -> list[EvalSet]:
    paths: list[Path] | None = args.data
    if not paths:
        return list(DEFAULT_SETS)
    return [EvalSet(p.stem, p, "given with --data") for p in paths]


def _load(sets: list[EvalSet]) -> dict[str, list[Sample]]:
    loaded = {}
    for item in sets:
        if not item.path.is_file():
            fail(f"no labeled data at {item.path}", EXIT_USAGE)
        try:
            loaded[item.name] = load_samples(item.path)
        except (OSError, ValueError, KeyError) as exc:
            fail(f"cannot read {item.path}: {exc}", EXIT_USAGE)
    return loaded


def _eval(args: argparse.Namespace) -> int:
    sets = _sets(args)
    samples = _load(sets)
    detector = Detector(DetectorSettings(model=args.model))
    figures: dict[str, dict[str, float]] = {}
    all_met = True
    for item in sets:
        started = time.perf_counter()
        report = evaluate(detector, samples[item.name])
        elapsed = time.perf_counter() - started
        print(f"== {item.name}: {item.path.name}, {len(samples[item.name])} messages ({item.role})")
        print(report.table())
        figures[item.path.stem] = report.figures()  # the baseline is keyed by file name
        lines, met = target_report(figures[item.path.stem])
        all_met = all_met and met
        print(f"targets ({elapsed:.2f}s):")
        print("\n".join(lines))
        print()
    return _compare(args, figures, all_met)


def _compare(args: argparse.Namespace, figures: dict[str, dict[str, float]], all_met: bool) -> int:
    baseline_path: Path = args.baseline
    if args.write_baseline:
        baseline_path.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n", "utf-8")
        print(f"baseline written to {baseline_path}")
        return EXIT_OK
    if not baseline_path.is_file():
        print("no baseline to compare with")
        return EXIT_OK if all_met else EXIT_FAILED
    try:
        baseline = json.loads(baseline_path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        fail(f"cannot read baseline {baseline_path}: {exc}", EXIT_USAGE)
    flat = all(isinstance(v, int | float) for v in baseline.values())
    dropped = []
    for name, measured in figures.items():
        # A flat baseline (one set's figures, the old format) applies to a single set.
        expected = baseline if flat and len(figures) == 1 else baseline.get(name)
        if isinstance(expected, dict):
            dropped += [f"{name} {line}" for line in regressions(measured, expected)]
    for line in dropped:
        print(f"REGRESSION {line}")
    if dropped or not all_met:
        if not all_met:
            print("some targets are MISSED (see above)")
        return EXIT_FAILED
    print("no regression against the baseline; every target met")
    return EXIT_OK
