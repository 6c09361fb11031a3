from __future__ import annotations

from collections import Counter

from gateway.metrics import Metrics
from gateway.metrics_live import watch


def test_state_failures_are_read_at_scrape_time() -> None:
    metrics = Metrics(process=False)
    failures: Counter[str] = Counter()
    watch(metrics.registry, state_failures=failures)
    assert 'skein_state_errors_total{feature="budgets"} 0.0' in metrics.render()[0].decode()  # from the start
    failures["rate_limits"] += 3
    body = metrics.render()[0].decode()
    assert 'skein_state_errors_total{feature="rate_limits"} 3.0' in body


def test_audit_backlog_and_dependencies_are_read_at_scrape_time() -> None:
    metrics = Metrics(process=False)
    backlog = {"records": 0, "bytes": 0}
    redis_up = [True]
    metrics.watch_audit(depth=lambda: backlog["records"], spool_bytes=lambda: backlog["bytes"])
    metrics.watch_dependency("redis", lambda: redis_up[0])
    assert b"skein_audit_spool_bytes 0.0" in metrics.render()[0]
    backlog.update(records=7, bytes=4096)
    redis_up[0] = False
    body = metrics.render()[0].decode()
    assert "skein_audit_queue_depth 7.0" in body and "skein_audit_spool_bytes 4096.0" in body
    assert 'skein_dependency_up{dependency="redis"} 0.0' in body


def test_nothing_registered_without_sources() -> None:
    metrics = Metrics(process=False)
    watch(metrics.registry)
    assert b"skein_state_errors" not in metrics.render()[0]
