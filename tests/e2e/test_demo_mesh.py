"""The seed's demo, end to end: deploy/scripts/demo-mesh.sh against a real `skein serve` in dev
mode (the same script an operator runs against `make run`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.server import REPO, serve

pytestmark = pytest.mark.e2e


def test_the_budget_approval_demo_runs(tmp_path: Path) -> None:
    state = tmp_path / "state"
    config = {
        "state_dir": str(state),
        "dev": {"enabled": True},
        "bundle": {
            "policies_dir": str(REPO / "policies"),
            "profiles_dir": str(REPO / "bundles"),
            "verify": False,
        },
        "guard": {"enabled": False},  # the demo's text has no PII; spares loading spaCy
    }
    with serve(config, tmp_path) as base:
        env = {
            **os.environ,
            "DEMO_URL": base,
            "SKEIN_STATE_DIR": str(state),  # `skein token` signs with this gateway's dev key
            "BIN": str(Path(sys.executable).parent),
        }
        run = subprocess.run(
            [str(REPO / "deploy/scripts/demo-mesh.sh")], capture_output=True, text=True, timeout=600, env=env
        )
    out = run.stdout
    assert run.returncode == 0, out + run.stderr
    assert '"imported":50' in out
    assert "the org chart says person 2 decides" in out  # Karen reports to Bob
    assert "fetch_status: task pending, approval approved" in out
    trail = out.split("audit trail (oldest first):")[1]
    for action in ("org.import", "task.send", "approval.request", "notification.send", "approval.decide"):
        assert action in trail, trail
    assert "agent_mesh__send_task" in trail and "result: the budget task is approved" in out
