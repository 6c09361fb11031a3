"""deploy/prometheus/alerts.yml under promtool: the rules load, and alerts_test.yml's cases pass
(each alert fires on the series it is about, and stays quiet before its ``for``)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

RULES = Path(__file__).resolve().parent.parent / "deploy" / "prometheus"
PROMTOOL = shutil.which("promtool")

pytestmark = pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed (Debian: prometheus)")


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=60, cwd=RULES)


def test_the_rules_load() -> None:
    checked = _promtool("check", "rules", "alerts.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_every_alert_fires_as_its_test_says() -> None:
    tested = _promtool("test", "rules", "alerts_test.yml")
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_every_alert_has_a_test() -> None:
    import yaml

    alerts = {
        r["alert"] for g in yaml.safe_load((RULES / "alerts.yml").read_text())["groups"] for r in g["rules"]
    }
    cases = yaml.safe_load((RULES / "alerts_test.yml").read_text())["tests"]
    tested = {check["alertname"] for case in cases for check in case["alert_rule_test"]}
    untested = alerts - tested - _ONLY_LOADED
    assert not untested, f"alerts without a promtool case: {sorted(untested)}"


# The older audit and Redis rules are plain thresholds on one series; the others are tested.
_ONLY_LOADED = {
    "SkeinAuditRecordsLost",
    "SkeinAuditCallsRefused",
    "SkeinAuditSpoolUnwritable",
    "SkeinAuditStoreDown",
    "SkeinAuditSpoolFilling",
    "SkeinRedisDown",
}
