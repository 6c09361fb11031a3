"""`skein policy test | eval` end to end (in process, through the real argument parser)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from gateway.cli.main import main
from tests.policy.conftest import BUNDLES, POLICIES


def test_policy_test_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "test", "--dir", str(POLICIES), "--bundles", str(BUNDLES)]) == 0
    assert " 0 failed" in capsys.readouterr().out


def test_a_failing_test_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copytree(POLICIES, tmp_path / "policies")
    (tmp_path / "policies" / "wrong_test.rego").write_text(
        "package gateway_test\n\nimport rego.v1\n\nimport data.gateway\n\n"
        'input_finance_gets_gpt_4o := {"principal": {"roles": ["finance"]}, '
        '"action": "chat", "resource": {"model": "gpt-4o"}}\n\n'
        "test_finance_gets_gpt_4o if {\n\tgateway.decision.allow\n}\n"
    )
    assert main(["policy", "test", "--dir", str(tmp_path / "policies"), "--bundles", str(BUNDLES)]) == 1
    out = capsys.readouterr().out
    assert "FAIL wrong_test.rego::test_finance_gets_gpt_4o" in out and " 1 failed" in out


def test_a_syntax_error_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copytree(POLICIES, tmp_path / "policies")
    (tmp_path / "policies" / "models.rego").write_text(
        "package gateway\n\nimport rego.v1\n\nbroken if {\n\tx := := 1\n}\n"
    )
    with pytest.raises(SystemExit) as info:
        main(["policy", "test", "--dir", str(tmp_path / "policies"), "--bundles", str(BUNDLES)])
    assert info.value.code == 1
    assert "models.rego:6:" in capsys.readouterr().err


def test_eval_prints_the_decision(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "input.json"
    path.write_text(
        json.dumps({"principal": {"roles": ["finance"]}, "action": "chat", "resource": {"model": "gpt-4o"}})
    )
    assert (
        main(["policy", "eval", "--input", str(path), "--dir", str(POLICIES), "--bundles", str(BUNDLES)]) == 0
    )
    decision = json.loads(capsys.readouterr().out)
    assert decision["allow"] is False and decision["reasons"][0]["code"] == "model_not_allowed"
