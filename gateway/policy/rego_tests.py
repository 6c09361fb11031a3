"""Run the ``test_*`` rules of ``*_test.rego`` files, as ``opa test`` does.

All modules (policies and tests) and the bundle's data are compiled once; each test rule
is then evaluated on a fresh engine with no input, so a test states its input the standard
way (``gateway.decision.allow with input as {...}``) and the same files pass under
``opa test``. A test passes when its rule is ``true``; ``false`` or undefined fails; an
error inside the engine is reported as an error.

When a test fails, it is run once more with coverage on, to say where it stopped: the last
line of its body the engine evaluated (the expression that was false or undefined), and
each ``with input as ...`` it used, with the value that expression has when it can be
evaluated on its own. That is as far as the engine lets a failure be explained.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from gateway.policy.interpreter import CompiledPolicy, EngineFault

TEST_SUFFIX = "_test.rego"
_PACKAGE = re.compile(r"^package\s+([\w.]+)", re.MULTILINE)
_TEST_RULE = re.compile(r"^(test_\w+)\b", re.MULTILINE)  # rule heads start a line
_WITH_INPUT = re.compile(r"\bwith\s+(input(?:\.[\w.]+)?)\s+as\s+")
_HELPER_CALL = re.compile(r"^([a-z_]\w*)\(")  # a function of the test package: chat(...)

Outcome = Literal["pass", "fail", "error"]


@dataclass(frozen=True, slots=True)
class RegoTest:
    file: str  # path relative to the policy root
    package: str
    name: str
    line: int  # the line of the rule's (first) head

    @property
    def path(self) -> str:
        return f"data.{self.package}.{self.name}"

    @property
    def id(self) -> str:
        return f"{self.file}::{self.name}"


@dataclass(frozen=True, slots=True)
class InputUsed:
    target: str  # "input" or "input.request"
    source: str  # the expression as written: chat(["finance"], "gpt-4o")
    value: Any = None
    evaluated: bool = False  # False: the expression needs variables of the test body


@dataclass(frozen=True, slots=True)
class Failure:
    line: int | None  # the last line of the test body the engine evaluated
    expression: str | None
    inputs: tuple[InputUsed, ...] = ()


@dataclass(frozen=True, slots=True)
class RegoTestResult:
    test: RegoTest
    outcome: Outcome
    seconds: float
    error: str | None = None  # outcome "error": what the engine said
    failure: Failure | None = None  # outcome "fail": where

    @property
    def passed(self) -> bool:
        return self.outcome == "pass"


def read_modules(policies_dir: Path) -> dict[str, str]:
    """Every ``*.rego`` under the root (tests included), by path relative to it."""
    return {
        path.relative_to(policies_dir).as_posix(): path.read_text(encoding="utf-8")
        for path in sorted(policies_dir.rglob("*.rego"))
    }


def discover(modules: Mapping[str, str]) -> list[RegoTest]:
    tests: list[RegoTest] = []
    for name, source in sorted(modules.items()):
        package = _PACKAGE.search(source)
        if not name.endswith(TEST_SUFFIX) or package is None:
            continue
        seen: set[str] = set()
        for match in _TEST_RULE.finditer(source):
            rule = match.group(1)
            if rule in seen:  # several bodies (OPA allows it) are still one test
                continue
            seen.add(rule)
            tests.append(RegoTest(name, package.group(1), rule, source.count("\n", 0, match.start()) + 1))
    return tests


class RegoTestRunner:
    """Compiles once (raises ``PolicyCompileError`` naming file and line), then runs tests."""

    def __init__(self, modules: Mapping[str, str], data: Mapping[str, Any]) -> None:
        self.tests = discover(modules)
        self._modules = dict(modules)
        self.policy = CompiledPolicy(modules, data)

    def run(self, test: RegoTest) -> RegoTestResult:
        started = time.perf_counter()
        try:
            value, _ = self.policy.run_test(test.path)
        except EngineFault as fault:
            return RegoTestResult(test, "error", time.perf_counter() - started, error=fault.detail)
        seconds = time.perf_counter() - started
        if value is True:
            return RegoTestResult(test, "pass", seconds)
        return RegoTestResult(test, "fail", seconds, failure=self._explain(test))

    def run_all(self, match: str | None = None) -> Sequence[RegoTestResult]:
        return [self.run(test) for test in self.tests if match is None or match in test.id]

    def _explain(self, test: RegoTest) -> Failure:
        source = self._modules[test.file]
        lines = source.splitlines()
        body = rule_lines(lines, test.line)
        try:
            _, covered = self.policy.run_test(test.path, coverage=True)
        except EngineFault:
            covered = {}
        reached = sorted(covered.get(test.file, set()) & set(body))
        line = reached[-1] if reached else None
        expression = lines[line - 1].strip() if line else None
        text = "\n".join(lines[n - 1] for n in body)
        return Failure(line, expression, tuple(self._input(test, *found) for found in inputs_used(text)))

    def _input(self, test: RegoTest, target: str, expression: str) -> InputUsed:
        # A helper of the test package (chat(...)) is evaluated by its full name; an
        # expression that uses variables of the test body cannot be evaluated on its own.
        query = _HELPER_CALL.sub(lambda m: f"data.{test.package}.{m.group(1)}(", expression, count=1)
        try:
            values = self.policy.query(query, {})
        except EngineFault:
            values = []
        if len(values) != 1:
            return InputUsed(target, expression)
        return InputUsed(target, expression, values[0], evaluated=True)


def rule_lines(lines: Sequence[str], head: int) -> list[int]:
    """Line numbers of the rule starting at ``head``, to the brace that closes its body."""
    depth, numbers = 0, []
    for number in range(head, len(lines) + 1):
        text = _code(lines[number - 1])
        numbers.append(number)
        depth += text.count("{") - text.count("}")
        if depth <= 0:  # the closing brace, or a one-line rule
            break
    return numbers


def inputs_used(text: str) -> list[tuple[str, str]]:
    """``(target, expression)`` for every ``with input... as <expression>`` in ``text``."""
    found = []
    for match in _WITH_INPUT.finditer(text):
        found.append((match.group(1), _expression_at(text, match.end())))
    return found


def _expression_at(text: str, start: int) -> str:
    """The expression starting at ``start``: up to a newline or ``with`` at bracket depth 0."""
    depth, index, quoted = 0, start, False
    while index < len(text):
        char = text[index]
        if quoted:
            if char == "\\":
                index += 1
            elif char == '"':
                quoted = False
        elif char == '"':
            quoted = True
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            if depth == 0:
                break
            depth -= 1
        elif depth == 0 and (char == "\n" or text.startswith(" with ", index)):
            break
        index += 1
    return text[start:index].strip()


def _code(line: str) -> str:
    """The line without its comment and string literals (so braces in them do not count)."""
    line = re.sub(r'"(?:\\.|[^"\\])*"', '""', line)
    return line.split("#", 1)[0]
