from __future__ import annotations

import time

import pytest

from gateway.metrics import NONE, OTHER, LabelBound, Metrics, RoleSetBound, role_key, status_class


@pytest.fixture
def metrics() -> Metrics:
    return Metrics(process=False)


def value(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


REQUEST = {"route": "/v1/chat/completions", "decision": "allow", "reason": "allowed", "status_class": "2xx"}


def test_every_documented_metric_is_defined(metrics: Metrics) -> None:
    names = metrics.metric_names()
    for name in (
        "skein_requests_total",
        "skein_request_duration_seconds_bucket",
        "skein_stage_duration_seconds_bucket",
        "skein_overhead_seconds_bucket",
        "skein_upstream_duration_seconds_bucket",
        "skein_upstream_errors_total",
        "skein_upstream_attempts_total",
        "skein_task_calls_total",
        "skein_downshifts_total",
        "skein_tokens_total",
        "skein_cost_usd_total",
        "skein_audit_events_total",
        "skein_audit_queue_depth",
        "skein_bundle_info",
        "skein_bundle_load_total",
        "skein_guard_entities_total",
        "skein_bundle_load_duration_seconds_bucket",
    ):
        assert name in names, name
    assert "skein_request_total" not in names


def test_process_metrics_are_optional() -> None:
    assert "process_cpu_seconds_total" in Metrics().metric_names()
    assert "process_cpu_seconds_total" not in Metrics(process=False).metric_names()


def test_observe_request(metrics: Metrics) -> None:
    for _ in range(2):
        metrics.observe_request("/v1/chat/completions", "allow", "allowed", "gpt-4o", "finance", 0.2, 0.001)
    labels = {**REQUEST, "model": "gpt-4o", "role": "finance"}
    assert value(metrics, "skein_requests_total", **labels) == 2
    route = {"route": "/v1/chat/completions"}
    by_model = {**route, "model": "gpt-4o"}
    assert value(metrics, "skein_request_duration_seconds_count", **by_model) == 2
    assert value(metrics, "skein_request_duration_seconds_sum", **by_model) == pytest.approx(0.4)
    assert value(metrics, "skein_overhead_seconds_bucket", **route, le="0.001") == 2
    assert value(metrics, "skein_overhead_seconds_bucket", **route, le="0.0005") == 0


def test_missing_values_are_none(metrics: Metrics) -> None:
    metrics.observe_request("/v1/models", "deny", "missing_credentials", None, None, 0.01, 0.01)
    labels = {
        "route": "/v1/models",
        "decision": "deny",
        "reason": "missing_credentials",
        "status_class": "2xx",
    }
    assert value(metrics, "skein_requests_total", **labels, model=NONE, role=NONE) == 1


def test_models_and_roles_outside_the_bundle_are_other(metrics: Metrics) -> None:
    metrics.observe_request("/r", "allow", "allowed", "gpt-4o", "finance", 0.1, 0.1)  # before any bundle
    metrics.set_known_labels(models=["gpt-4o-mini"], roles=["engineering"])
    metrics.observe_request("/r", "allow", "allowed", "gpt-4o", "finance", 0.1, 0.1)  # cached key re-resolved
    metrics.observe_request("/r", "allow", "allowed", "gpt-4o-mini", "engineering", 0.1, 0.1)
    base = {"route": "/r", "decision": "allow", "reason": "allowed", "status_class": "2xx"}
    assert value(metrics, "skein_requests_total", **base, model="gpt-4o", role="finance") == 1
    assert value(metrics, "skein_requests_total", **base, model=OTHER, role=OTHER) == 1
    assert value(metrics, "skein_requests_total", **base, model="gpt-4o-mini", role="engineering") == 1


def test_free_form_labels_are_capped() -> None:
    metrics = Metrics(label_cap=2, process=False)
    for reason in ("a", "b", "c", "d"):
        metrics.count_upstream_error("openai", reason)
    assert value(metrics, "skein_upstream_errors_total", provider="openai", reason="b") == 1
    assert value(metrics, "skein_upstream_errors_total", provider="openai", reason="c") is None
    assert value(metrics, "skein_upstream_errors_total", provider="openai", reason=OTHER) == 2


def test_label_bound() -> None:
    bound = LabelBound(1)
    assert [bound("x"), bound("y"), bound("x"), bound(""), bound(None)] == ["x", OTHER, "x", NONE, NONE]
    known = LabelBound(10, known=["a"])
    assert [known("a"), known("b")] == ["a", OTHER]


def test_stages(metrics: Metrics) -> None:
    metrics.observe_stage("decide", 0.0002)
    metrics.observe_stages({"decide": 0.0003, "authenticate": 0.00005})
    assert value(metrics, "skein_stage_duration_seconds_count", stage="decide") == 2
    assert value(metrics, "skein_stage_duration_seconds_bucket", stage="authenticate", le="0.0001") == 1


def test_upstream(metrics: Metrics) -> None:
    metrics.set_known_labels(models=["gpt-4o"], roles=[])
    metrics.observe_upstream("openai", 1.5, "gpt-4o")
    metrics.observe_upstream("openai", 0.5, "gpt-9")
    metrics.count_upstream_error("openai", "upstream_timeout")
    assert value(metrics, "skein_upstream_duration_seconds_sum", provider="openai", model="gpt-4o") == 1.5
    assert value(metrics, "skein_upstream_duration_seconds_sum", provider="openai", model=OTHER) == 0.5
    assert value(metrics, "skein_upstream_errors_total", provider="openai", reason="upstream_timeout") == 1


def test_usage(metrics: Metrics) -> None:
    metrics.set_known_labels(models=["gpt-4o"], roles=["finance"])
    metrics.observe_usage("gpt-4o", "finance", 100, 20, 0.0125)
    metrics.observe_usage("gpt-4o", "finance", 0, 0, 0.0)  # nothing to count, nothing created
    labels = {"model": "gpt-4o", "role": "finance"}
    assert value(metrics, "skein_tokens_total", direction="input", **labels) == 100
    assert value(metrics, "skein_tokens_total", direction="output", **labels) == 20
    assert value(metrics, "skein_cost_usd_total", **labels) == pytest.approx(0.0125)


def test_guard_entities(metrics: Metrics) -> None:
    metrics.count_guard_entities({"EMAIL_ADDRESS": 2, "US_SSN": 0})
    assert value(metrics, "skein_guard_entities_total", entity="EMAIL_ADDRESS") == 2
    assert value(metrics, "skein_guard_entities_total", entity="US_SSN") is None


def test_audit(metrics: Metrics) -> None:
    assert value(metrics, "skein_audit_events_total", result="dropped") == 0  # present from the start
    metrics.count_audit("written", 256)
    metrics.count_audit("failed")
    metrics.set_audit_queue_depth(17)
    assert value(metrics, "skein_audit_events_total", result="written") == 256
    assert value(metrics, "skein_audit_events_total", result="failed") == 1
    assert value(metrics, "skein_audit_queue_depth") == 17


def test_bundle(metrics: Metrics) -> None:
    metrics.set_bundle("r1", "sha256:aa")
    metrics.set_bundle("r2", "sha256:bb")
    metrics.count_bundle_load("ok")
    metrics.count_bundle_load("rejected")
    assert value(metrics, "skein_bundle_info", revision="r2", digest="sha256:bb") == 1
    assert value(metrics, "skein_bundle_info", revision="r1", digest="sha256:aa") is None
    assert value(metrics, "skein_bundle_load_total", result="ok") == 1
    assert value(metrics, "skein_bundle_load_total", result="rejected") == 1
    assert value(metrics, "skein_bundle_load_total", result="error") == 0


def test_bundle_store_loads(metrics: Metrics) -> None:
    metrics.observe_bundle_load(True, 0.04)
    metrics.observe_bundle_load(False, 0.01)
    assert value(metrics, "skein_bundle_load_total", result="ok") == 1
    assert value(metrics, "skein_bundle_load_total", result="error") == 1
    assert value(metrics, "skein_bundle_load_duration_seconds_count") == 2


def test_render(metrics: Metrics) -> None:
    metrics.observe_request("/r", "allow", "allowed", "m", "r", 0.1, 0.01)
    body, content_type = metrics.render()
    assert content_type.startswith("text/plain")
    assert (
        b'skein_requests_total{decision="allow",model="m",reason="allowed",role="r",'
        b'route="/r",status_class="2xx"} 1.0' in body
    )


def test_instances_do_not_share_state() -> None:
    first, second = Metrics(process=False), Metrics(process=False)
    first.count_audit("written")
    assert value(second, "skein_audit_events_total", result="written") == 0


def test_the_request_path_is_cheap(metrics: Metrics) -> None:
    # The whole request has ~500us at 2,000 req/s; metrics must stay a small part of it.
    stages = {"authenticate": 1e-5, "decide": 2e-4, "mask": 1e-5, "forward": 1e-3}
    started = time.perf_counter()
    for _ in range(2000):
        metrics.observe_request("/v1/chat/completions", "allow", "allowed", "gpt-4o", "finance", 0.2, 0.001)
        metrics.observe_stages(stages)
        metrics.observe_usage("gpt-4o", "finance", 100, 20, 0.01)
    per_request = (time.perf_counter() - started) / 2000
    assert per_request < 100e-6, f"{per_request * 1e6:.1f}us per request"


def test_status_class_separates_errors(metrics: Metrics) -> None:
    for status in (200, 429, 500, 0):
        metrics.observe_request("/r", "allow", "allowed", "m", "r", 0.1, 0.01, status)
    labels = {"route": "/r", "decision": "allow", "reason": "allowed", "model": "m", "role": "r"}
    assert value(metrics, "skein_requests_total", **labels, status_class="2xx") == 2  # 0: not set yet
    assert value(metrics, "skein_requests_total", **labels, status_class="4xx") == 1
    assert value(metrics, "skein_requests_total", **labels, status_class="5xx") == 1
    assert [status_class(s) for s in (101, 302, 499, 503, 0, 700)] == [
        "1xx",
        "3xx",
        "4xx",
        "5xx",
        "2xx",
        "2xx",
    ]


def test_a_caller_with_several_roles_counts_once_under_its_set(metrics: Metrics) -> None:
    metrics.set_known_labels(models=["m"], roles=["developer", "finance"])
    for roles in (
        ("finance", "developer"),
        ("developer", "finance", "astronaut"),
        ("finance",),
        ("astronaut",),
        (),
    ):
        metrics.observe_usage("m", role_key(roles), 10, 0, 0.0)
    tokens = {"direction": "input", "model": "m"}
    assert value(metrics, "skein_tokens_total", **tokens, role="developer+finance") == 20
    assert value(metrics, "skein_tokens_total", **tokens, role="finance") == 10
    assert value(metrics, "skein_tokens_total", **tokens, role=OTHER) == 10
    assert value(metrics, "skein_tokens_total", **tokens, role=NONE) == 10


def test_role_sets_are_capped() -> None:
    bound = RoleSetBound(1, known=["a", "b", "c"])
    assert [bound("a"), bound("a+b"), bound("b+c"), bound("c"), bound("b+a")] == [
        "a",
        "a+b",
        OTHER,
        "c",
        "a+b",
    ]


def test_request_latency_resolves_a_quarter_millisecond(metrics: Metrics) -> None:
    metrics.observe_request("/r", "deny", "invalid_token", None, None, 0.0002, 0.0002, 401)
    assert value(metrics, "skein_request_duration_seconds_bucket", route="/r", model=NONE, le="0.00025") == 1


def test_time_to_first_token(metrics: Metrics) -> None:
    metrics.set_known_labels(models=["m"], roles=[])
    metrics.observe_ttft("m", 0.3)
    metrics.observe_ttft("x", 0.02)
    assert value(metrics, "skein_time_to_first_token_seconds_bucket", model="m", le="0.5") == 1
    assert value(metrics, "skein_time_to_first_token_seconds_count", model=OTHER) == 1
