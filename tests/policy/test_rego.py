"""Every ``test_*`` rule of policies/*_test.rego, one pytest case each, through regopy."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.bundle.source import BundleContent
from gateway.policy.rego_tests import RegoTest, RegoTestRunner, discover, read_modules
from tests.policy.conftest import POLICIES

TESTS = discover(read_modules(POLICIES))


@pytest.fixture(scope="module")
def runner(sample: BundleContent, sample_data: dict[str, Any]) -> RegoTestRunner:
    return RegoTestRunner(read_modules(POLICIES), sample_data)


def test_every_policy_file_has_tests_beside_it() -> None:
    modules = read_modules(POLICIES)
    for name in modules:
        if not name.endswith("_test.rego"):
            tested = name.removesuffix(".rego") + "_test.rego"
            assert tested in modules, f"{name} has no {tested}"
    assert len(TESTS) >= 30


@pytest.mark.parametrize("case", TESTS, ids=[t.id for t in TESTS])
def test_rego(runner: RegoTestRunner, case: RegoTest) -> None:
    result = runner.run(case)
    assert result.passed, result.error or f"{case.id} is false or undefined"
