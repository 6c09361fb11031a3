"""Run the ``test_*`` rules of ``*_test.rego`` files through regopy, like ``opa test``.

All modules (policies and tests) are compiled once, with the bundle's data, into one plan
whose entry points are the test rules; each test is then one query. A test passes when its
rule is ``true``; ``false`` or undefined fails; an engine error is reported as an error.

Input convention: for ``test_<name>`` the runner first evaluates ``input_<name>`` in the
same package (when it exists) and runs the test with that value as ``input``. rego-cpp 1.5
cannot be trusted with ``with input as ...`` (it aborts the process on common policies and
compiles each use for about a second), so tests state their input this way instead.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.errors import Unavailable
from gateway.policy.embedded import compile_policy, query
from gateway.policy.engine import ENTRYPOINT

_PACKAGE = re.compile(r"^package\s+([\w.]+)", re.MULTILINE)
_TEST_RULE = re.compile(r"^(test_\w+)\b", re.MULTILINE)  # rule heads start a line
_INPUT_RULE = re.compile(r"^input_(\w+)\s*:?=", re.MULTILINE)
# Standard-style tests (``with input as``) are for the regorus runner that replaces this one;
# rego-cpp aborts the process on them, so this runner leaves such files out.
_STANDARD_STYLE = re.compile(r"^[^#\n]*\bwith\s+input\s+as\b", re.MULTILINE)  # outside comments


@dataclass(frozen=True, slots=True)
class RegoTest:
    file: str  # path relative to the policy root
    package: str
    name: str
    has_input: bool = False  # the package defines input_<name>

    @property
    def entrypoint(self) -> str:
        return f"{self.package.replace('.', '/')}/{self.name}"

    @property
    def input_entrypoint(self) -> str:
        return f"{self.package.replace('.', '/')}/input_{self.name.removeprefix('test_')}"

    @property
    def id(self) -> str:
        return f"{self.file}::{self.name}"


@dataclass(frozen=True, slots=True)
class RegoTestResult:
    test: RegoTest
    passed: bool
    seconds: float
    error: str | None = None


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
        if not name.endswith("_test.rego") or package is None or _STANDARD_STYLE.search(source):
            continue
        inputs = set(_INPUT_RULE.findall(source))
        # A test rule may have several bodies (OPA allows it); it is still one test.
        for rule in dict.fromkeys(_TEST_RULE.findall(source)):
            tests.append(RegoTest(name, package.group(1), rule, rule.removeprefix("test_") in inputs))
    return tests


class RegoTestRunner:
    """Compiles once (raises ``PolicyCompileError`` naming file and line), then runs tests."""

    def __init__(self, modules: Mapping[str, str], data: Mapping[str, Any]) -> None:
        modules = {name: source for name, source in modules.items() if not _STANDARD_STYLE.search(source)}
        self.tests = discover(modules)
        entrypoints = [test.entrypoint for test in self.tests]
        entrypoints += [test.input_entrypoint for test in self.tests if test.has_input]
        # With no tests, compile the policies alone: a syntax error must still be reported.
        self._interpreter, self._bundle = compile_policy(modules, data, entrypoints or [ENTRYPOINT])

    def run(self, test: RegoTest) -> RegoTestResult:
        started = time.perf_counter()
        try:
            test_input: Any = {}
            if test.has_input:
                test_input = query(self._interpreter, self._bundle, test.input_entrypoint, {})
                if test_input is None:
                    raise Unavailable(f"{test.input_entrypoint} is undefined", reason="policy_undefined")
            value = query(self._interpreter, self._bundle, test.entrypoint, test_input)
        except Unavailable as exc:
            return RegoTestResult(test, False, time.perf_counter() - started, exc.message)
        return RegoTestResult(test, value is True, time.perf_counter() - started)

    def run_all(self, match: str | None = None) -> Sequence[RegoTestResult]:
        return [self.run(test) for test in self.tests if match is None or match in test.id]
