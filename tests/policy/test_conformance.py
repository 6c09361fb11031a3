"""The conformance corpus: Rego snippets with the answers OPA gives, on every engine.

Each case in ``conformance/*.yaml`` is a rule ``x`` (an ``expr``, or a ``module`` body),
with an optional ``input`` and ``data``, and OPA's answer worked by hand from its builtin
documentation (``want``; ``undefined: true``). It runs on the embedded engine, on OPA's
own engine as a library (which checks that the hand-worked answers are OPA's), and on a
running OPA server when ``OPA_URL`` is set. A known difference (``gap``) is expected to
fail on the engine it names, strictly: an engine that stops differing fails the test, so
the list in docs/policy-guide.md stays true. Cost: about 150 cases x 2 engines, < 2 s.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.policy.reference import OPA_URL, UNDEFINED, Embedded, EngineError, ReferenceOpa, RemoteOpa

CORPUS = Path(__file__).parent / "conformance"
ENGINES = {"embedded": Embedded, "opa": ReferenceOpa} | ({"remote": RemoteOpa} if OPA_URL else {})


def load_cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []
    for path in sorted(CORPUS.glob("*.yaml")):
        for case in yaml.safe_load(path.read_text(encoding="utf-8")):
            cases.append({**case, "file": path.name})
    return cases


CASES = load_cases()


def module(case: dict[str, Any]) -> str:
    body = case["module"] if "module" in case else f"x := {case['expr']}\n"
    return f"package conformance.{case['name']}\n\nimport rego.v1\n\n{body}"


def params() -> list[Any]:
    out = []
    for case in CASES:
        for engine in ENGINES:
            gap = (case.get("gap") or {}).get(engine)
            marks = [pytest.mark.xfail(strict=True, reason=gap)] if gap else []
            out.append(pytest.param(case, engine, id=f"{case['name']}-{engine}", marks=marks))
    return out


def test_names_are_unique_and_every_case_has_an_answer() -> None:
    names = [case["name"] for case in CASES]
    assert len(names) == len(set(names))
    assert all(("want" in c) != bool(c.get("undefined")) for c in CASES), "want xor undefined"
    assert len(CASES) >= 100


@pytest.mark.parametrize(("case", "engine"), params())
def test_case(case: dict[str, Any], engine: str) -> None:
    source = module(case)
    try:
        evaluator = ENGINES[engine]({f"{case['name']}.rego": source}, case.get("data") or {})
        got = evaluator.evaluate(f"data.conformance.{case['name']}.x", case.get("input"))
    except EngineError as exc:
        pytest.fail(f"{engine} failed on {case['file']}::{case['name']}: {exc}\n{source}")
    want = UNDEFINED if case.get("undefined") else case["want"]
    assert got == want, f"{case['file']}::{case['name']} on {engine}\n{source}"
