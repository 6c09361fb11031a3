"""Every ``test_*`` rule of policies/*_test.rego, one pytest case each, on the embedded
engine and on OPA's own engine (the same files pass ``opa test``)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from gateway.bundle.source import BundleContent
from gateway.policy.rego_tests import RegoTest, RegoTestRunner, discover, read_modules
from tests.policy.conftest import POLICIES
from tests.policy.reference import ReferenceOpa

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


@pytest.fixture(scope="module")
def opa(sample_data: dict[str, Any]) -> ReferenceOpa:
    return ReferenceOpa(read_modules(POLICIES), sample_data)


@pytest.mark.parametrize("case", TESTS, ids=[t.id for t in TESTS])
def test_rego(runner: RegoTestRunner, case: RegoTest) -> None:
    result = runner.run(case)
    assert result.passed, result.error or f"{case.id} is false or undefined: {result.failure}"


@pytest.mark.parametrize("case", TESTS, ids=[t.id for t in TESTS])
def test_rego_on_opa(opa: ReferenceOpa, case: RegoTest) -> None:
    assert opa.evaluate(case.path) is True, f"{case.id} fails under OPA"


def test_tests_state_their_input_the_standard_way() -> None:
    for name, source in read_modules(POLICIES).items():
        if name.endswith("_test.rego"):
            assert not re.search(r"^input_\w+", source, re.M), (
                f"{name}: use `with input as`, not input_<name>"
            )
            assert "with input as" in source or name == "helpers_test.rego", name
