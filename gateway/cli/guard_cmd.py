"""`skein guard eval`: precision / recall / F1 of the PII guard on the labeled set.

Exit codes: 0 when every accuracy target is met and no figure fell below the baseline (or
no baseline was given), 1 on a missed target or a regression, 2 for a missing or
unreadable data set or baseline.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from gateway.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, fail
from guard.detector import Detector, DetectorSettings
from guard.evaluation import evaluate, load_samples, regressions, target_report

_REPO = Path(__file__).resolve().parents[2]
DEFAULT_DATA = _REPO / "tests" / "data" / "pii_eval.jsonl"
DEFAULT_BASELINE = _REPO / "tests" / "data" / "pii_eval_baseline.json"


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    guard = commands.add_parser("guard", help="PII guard tools")
    actions = guard.add_subparsers(dest="guard_command", required=True, metavar="ACTION")
    run = actions.add_parser("eval", help="measure detection on a labeled set and compare with a baseline")
    run.add_argument("--data", type=Path, default=DEFAULT_DATA, help="labeled JSONL (default: tests/data)")
    run.add_argument("--baseline", type=Path, default=DEFAULT_BASELINE, help="baseline JSON to compare with")
    run.add_argument("--model", default=DetectorSettings().model, help="spaCy model package name")
    run.add_argument("--write-baseline", action="store_true", help="write the figures to --baseline")
    run.set_defaults(handler=_eval)


def _eval(args: argparse.Namespace) -> int:
    data: Path = args.data
    if not data.is_file():
        fail(f"no labeled data at {data}", EXIT_USAGE)
    try:
        samples = load_samples(data)
    except (OSError, ValueError, KeyError) as exc:
        fail(f"cannot read {data}: {exc}", EXIT_USAGE)
    detector = Detector(DetectorSettings(model=args.model))
    started = time.perf_counter()
    report = evaluate(detector, samples)
    elapsed = time.perf_counter() - started
    print(report.table())
    print(f"{len(samples)} messages in {elapsed:.2f}s")
    figures = report.figures()
    lines, targets_met = target_report(figures)
    print("targets:")
    print("\n".join(lines))
    baseline_path: Path = args.baseline
    if args.write_baseline:
        baseline_path.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n", "utf-8")
        print(f"baseline written to {baseline_path}")
        return EXIT_OK
    if not baseline_path.is_file():
        print("no baseline to compare with")
        return EXIT_OK if targets_met else EXIT_FAILED
    try:
        baseline = json.loads(baseline_path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        fail(f"cannot read baseline {baseline_path}: {exc}", EXIT_USAGE)
    dropped = regressions(figures, baseline)
    for line in dropped:
        print(f"REGRESSION {line}")
    if dropped or not targets_met:
        return EXIT_FAILED
    print("no regression against the baseline; every target met")
    return EXIT_OK
