"""How ``skein policy test`` reports: text for people, JSON for tools, JUnit XML for CI.

Text prints failures (every test with ``-v``) the way ``opa test`` does, plus where a failing
test stopped and the input it used::

    FAIL models_test.rego::test_finance_may_not_use_gpt_4o (0.41 ms)
      stopped at models_test.rego:16: codes(d) == ["model_not_allowed"]
      with input as chat(["finance"], "gpt-4o")
        = {"action": "chat", "principal": {...}, "resource": {"model": "gpt-4o"}}
    42 passed, 1 failed (43 tests, 31.2 ms)
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Any

from gateway.policy.rego_tests import Failure, RegoTestResult

FORMATS = ("text", "json", "junit")


def render(results: Sequence[RegoTestResult], fmt: str, *, verbose: bool = False) -> str:
    if fmt == "json":
        return json.dumps(as_json(results), indent=2, ensure_ascii=False) + "\n"
    if fmt == "junit":
        return as_junit(results)
    return as_text(results, verbose=verbose)


def summary(results: Sequence[RegoTestResult]) -> dict[str, Any]:
    counts = {outcome: sum(r.outcome == outcome for r in results) for outcome in ("pass", "fail", "error")}
    return {
        "tests": len(results),
        "passed": counts["pass"],
        "failed": counts["fail"],
        "errors": counts["error"],
        "ms": round(sum(r.seconds for r in results) * 1000, 3),
    }


def as_text(results: Sequence[RegoTestResult], *, verbose: bool) -> str:
    lines: list[str] = []
    for result in results:
        if verbose or not result.passed:
            lines.extend(_text_lines(result))
    total = summary(results)
    failed = total["failed"] + total["errors"]
    lines.append(f"{total['passed']} passed, {failed} failed ({total['tests']} tests, {total['ms']:.1f} ms)")
    return "\n".join(lines) + "\n"


def _text_lines(result: RegoTestResult) -> list[str]:
    label = {"pass": "PASS", "fail": "FAIL", "error": "ERROR"}[result.outcome]
    lines = [f"{label} {result.test.id} ({result.seconds * 1000:.2f} ms)"]
    if result.error:
        lines.append(f"  {result.error}")
    if result.failure:
        lines.extend(_failure_lines(result.test.file, result.failure))
    return lines


def _failure_lines(file: str, failure: Failure) -> list[str]:
    lines = []
    if failure.line is not None:
        lines.append(f"  stopped at {file}:{failure.line}: {failure.expression}")
    for used in failure.inputs:
        lines.append(f"  with {used.target} as {used.source}")
        if used.evaluated:
            lines.append(f"    = {json.dumps(used.value, sort_keys=True, ensure_ascii=False)}")
    return lines


def as_json(results: Sequence[RegoTestResult]) -> dict[str, Any]:
    return {"summary": summary(results), "tests": [_json_result(r) for r in results]}


def _json_result(result: RegoTestResult) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": result.test.id,
        "file": result.test.file,
        "package": result.test.package,
        "name": result.test.name,
        "outcome": result.outcome,
        "ms": round(result.seconds * 1000, 3),
    }
    if result.error:
        entry["error"] = result.error
    if result.failure:
        failure = result.failure
        entry["stopped_at"] = {"line": failure.line, "expression": failure.expression}
        entry["inputs"] = [
            {"target": u.target, "source": u.source, **({"value": u.value} if u.evaluated else {})}
            for u in failure.inputs
        ]
    return entry


def as_junit(results: Sequence[RegoTestResult]) -> str:
    total = summary(results)
    suites = ET.Element(
        "testsuites",
        name="skein policy test",
        tests=str(total["tests"]),
        failures=str(total["failed"]),
        errors=str(total["errors"]),
        time=f"{total['ms'] / 1000:.6f}",
    )
    for file in dict.fromkeys(r.test.file for r in results):
        mine = [r for r in results if r.test.file == file]
        counts = summary(mine)
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=file,
            tests=str(counts["tests"]),
            failures=str(counts["failed"]),
            errors=str(counts["errors"]),
            time=f"{counts['ms'] / 1000:.6f}",
        )
        for result in mine:
            case = ET.SubElement(
                suite,
                "testcase",
                name=result.test.name,
                classname=result.test.package,
                file=file,
                line=str(result.test.line),
                time=f"{result.seconds:.6f}",
            )
            if result.outcome == "error":
                ET.SubElement(case, "error", message=result.error or "engine error").text = result.error
            elif result.outcome == "fail":
                detail = "\n".join(_failure_lines(file, result.failure)) if result.failure else ""
                ET.SubElement(case, "failure", message="false or undefined").text = detail
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"
