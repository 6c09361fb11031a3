"""deploy/prometheus/alerts.yml is well-formed and alerts only on metrics the gateway exports."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from gateway.metrics import Metrics
from gateway.metrics_live import watch
from tests.test_grafana import metric_names

ALERTS = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "alerts.yml"


def rules() -> list[dict[str, Any]]:
    loaded = yaml.safe_load(ALERTS.read_text())
    return [rule for group in loaded["groups"] for rule in group["rules"]]


def test_every_rule_is_complete_and_named_once() -> None:
    found = rules()
    assert found
    names = [rule["alert"] for rule in found]
    assert len(names) == len(set(names))
    for rule in found:
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule["alert"]


def test_every_expression_uses_defined_metrics() -> None:
    metrics = Metrics(process=False)
    watch(metrics.registry, state_failures=Counter({"budgets": 0}))
    defined = metrics.metric_names()
    for rule in rules():
        used = metric_names(rule["expr"])
        assert used, rule["alert"]
        assert used <= defined, f"{rule['alert']}: unknown {sorted(used - defined)}"


def test_the_outage_signals_are_alerted_on() -> None:
    exprs = " ".join(rule["expr"] for rule in rules())
    for signal in ('result="dropped"', 'result="refused"', 'dependency="audit_store"', 'dependency="redis"'):
        assert signal in exprs
