from __future__ import annotations

from collections import Counter

from gateway.metrics import Metrics
from gateway.metrics_live import watch


def test_spool_and_state_failures_are_read_at_scrape_time() -> None:
    metrics = Metrics(process=False)
    size = {"bytes": 0}
    failures: Counter[str] = Counter()
    watch(metrics.registry, spool_bytes=lambda: size["bytes"], state_failures=failures)
    assert b"skein_audit_spool_bytes 0.0" in metrics.render()[0]
    size["bytes"] = 4096
    failures["rate_limits"] += 3
    body = metrics.render()[0].decode()
    assert "skein_audit_spool_bytes 4096.0" in body
    assert 'skein_state_errors_total{feature="rate_limits"} 3.0' in body


def test_nothing_registered_without_sources() -> None:
    metrics = Metrics(process=False)
    watch(metrics.registry)
    assert b"skein_audit_spool_bytes" not in metrics.render()[0]
