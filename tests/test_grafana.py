"""The dashboards query only metrics that gateway/metrics/ defines, and provisioning fits them."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.metrics import Metrics
from gateway.metrics_live import watch

GRAFANA = Path(__file__).resolve().parent.parent / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))

_IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_KEYWORDS = {"and", "or", "unless", "offset", "bool", "atan2", "group_left", "group_right"}
_STRIPS = (
    re.compile(r'"(?:[^"\\]|\\.)*"'),  # string literals
    re.compile(r"\{[^}]*\}"),  # label matchers
    re.compile(r"\[[^\]]*\]"),  # range selectors
    re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)"),  # label lists
)


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression: identifiers that are not functions, labels or keywords."""
    for pattern in _STRIPS:
        expr = pattern.sub(" ", expr)
    names = set()
    for match in _IDENT.finditer(expr):
        is_call = expr[match.end() :].lstrip().startswith("(")
        is_number = expr[match.start() - 1 : match.start()].isdigit() if match.start() else False
        if not is_call and not is_number and match.group() not in _KEYWORDS:
            names.add(match.group())
    return names


def panels(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for item in items:
        yield item
        yield from panels(item.get("panels", []))


def queries(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, PromQL) for every panel target and every query variable."""
    for panel in panels(dashboard["panels"]):
        for target in panel.get("targets", []):
            yield f"panel {panel['title']!r}", target["expr"]
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable["type"] == "query":
            query = variable["query"]
            text = query["query"] if isinstance(query, dict) else query
            found = re.fullmatch(r"label_values\((.*),\s*\w+\)", text.strip())
            assert found, f"variable {variable['name']}: unexpected query {text!r}"
            yield f"variable {variable['name']!r}", found.group(1)


def test_the_extractor() -> None:
    expr = (
        "histogram_quantile(0.99, sum by (le, stage)"
        ' (rate(skein_stage_duration_seconds_bucket{x=~"a|b"}[5m])))'
        " / on (instance) group_left sum(up offset 1h) * 3600 and bool 1e3"
    )
    assert metric_names(expr) == {"skein_stage_duration_seconds_bucket", "up"}


def defined_metrics() -> Metrics:
    """The app's metrics, the scrape-time collectors (metrics_live) included."""
    metrics = Metrics()
    watch(metrics.registry, state_failures=Counter({"budgets": 0}))
    return metrics


def label_names() -> dict[str, set[str]]:
    """Label names of every sample name, from a registry that saw one of each observation."""
    metrics = defined_metrics()
    metrics.observe_request("/r", "allow", "allowed", "m", "r", 0.1, 0.01, 200)
    metrics.observe_usage("m", "r", 1, 1, 0.1)
    metrics.observe_upstream("p", 0.1, "m")
    metrics.observe_ttft("m", 0.1)
    metrics.observe_stages({"decide": 0.001})
    metrics.count_upstream_error("p", "x")
    metrics.count_guard_entities({"EMAIL_ADDRESS": 1})
    metrics.observe_mcp("s", "tools/call", "t", "allow")
    metrics.count_tools_hidden("s", 1)
    metrics.set_bundle("r", "d")
    found: dict[str, set[str]] = {}
    for family in metrics.registry.collect():
        for sample in family.samples:
            found.setdefault(sample.name, set()).update(sample.labels)
    return found


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_every_query_uses_defined_metrics(path: Path) -> None:
    defined = defined_metrics().metric_names()
    dashboard = json.loads(path.read_text())
    found = list(queries(dashboard))
    assert found, "a dashboard without queries"
    for where, expr in found:
        names = metric_names(expr)
        assert names, f"{where}: no metric in {expr!r}"
        unknown = names - defined
        assert not unknown, f"{where}: {sorted(unknown)} not defined in gateway/metrics/ ({expr!r})"


def test_the_overview_dashboard_covers_the_essentials() -> None:
    dashboard = json.loads((GRAFANA / "dashboards" / "skein-overview.json").read_text())
    assert dashboard["title"] == "Skein overview"
    used = set().union(*(metric_names(expr) for _, expr in queries(dashboard)))
    for name in (
        "skein_requests_total",
        "skein_request_duration_seconds_bucket",
        "skein_overhead_seconds_bucket",
        "skein_stage_duration_seconds_bucket",
        "skein_upstream_errors_total",
        "skein_tokens_total",
        "skein_cost_usd_total",
        "skein_audit_queue_depth",
        "skein_audit_events_total",
        "skein_bundle_info",
    ):
        assert name in used, name
    ids = [panel["id"] for panel in panels(dashboard["panels"])]
    assert len(ids) == len(set(ids)), "panel ids must be unique"


def test_provisioning_matches_the_dashboards() -> None:
    sources = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yaml").read_text())
    uids = {source["uid"] for source in sources["datasources"]}
    providers = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "skein.yaml").read_text())
    assert providers["providers"][0]["options"]["path"]
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text())
        variable = next(v for v in dashboard["templating"]["list"] if v["type"] == "datasource")
        assert variable["current"]["value"] in uids, f"{path.name}: default datasource is not provisioned"


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_every_panel_is_described_and_filtered_where_it_can_be(path: Path) -> None:
    """A description on every panel; $instance in every query; $model and $role in every query
    of a metric that carries that label (so a filter never silently does nothing)."""
    dashboard = json.loads(path.read_text())
    labels = label_names()
    for panel in panels(dashboard["panels"]):
        assert panel.get("description"), f"panel {panel['title']!r} has no description"
        for target in panel.get("targets", []):
            expr = target["expr"]
            assert 'instance=~"$instance"' in expr, f"{panel['title']!r}: {expr}"
            for name in metric_names(expr):
                for label in ("model", "role"):
                    if label in labels.get(name, set()):
                        assert f'{label}=~"${label}"' in expr, (
                            f"{panel['title']!r}: no ${label} filter on {name}"
                        )
