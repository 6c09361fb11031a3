"""/readyz: ready, degraded (serving, a dependency failing, with the reason), not ready."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gateway.audit.writer import AuditWriter
from tests.support.gateway import make_settings, running_gateway


def settings(tmp_path: Path, **state: Any) -> Any:
    return make_settings(tmp_path / "state", state=state, guard={"enabled": False})


async def test_ready_with_the_embedded_defaults(tmp_path: Path) -> None:
    async with running_gateway(settings(tmp_path)) as client:
        response = await client.get("/readyz")
    body = response.json()
    assert response.status_code == 200 and body["status"] == "ready" and body["reasons"] == []
    assert body["state"] == {"backend": "memory", "up": True}
    assert body["audit"]["healthy"] and body["audit"]["store_up"]


@pytest.mark.redis
async def test_degraded_while_redis_fails_with_the_reason(tmp_path: Path, redis_prefix: str) -> None:
    dead = settings(tmp_path, backend="redis", redis_url="redis://127.0.0.1:1/0", key_prefix=redis_prefix)
    async with running_gateway(dead) as client:
        response = await client.get("/readyz")
        metrics = (await client.get("/metrics")).text
    body = response.json()
    assert response.status_code == 200 and body["status"] == "degraded"  # still serving
    [reason] = body["reasons"]
    assert "shared state (Redis) failing" in reason and "budgets refused (503)" in reason
    assert body["state"] == {"backend": "redis", "up": False}
    assert 'skein_dependency_up{dependency="redis"} 0.0' in metrics


async def test_not_ready_when_audit_records_cannot_be_written(tmp_path: Path) -> None:
    async with running_gateway(settings(tmp_path)) as client:
        writer: AuditWriter = client.app_state["gateway"].audit  # type: ignore[attr-defined]
        real, writer._spool._fd = writer._spool._fd, -1  # the disk fails: every write does (EBADF)
        refused = await client.post("/v1/chat/completions", json={"model": "gpt-4o-mini", "messages": []})
        response = await client.get("/readyz")
        writer._spool._fd = real
    # An unauthenticated call would be a 401; without its audit record it is not answered at all.
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "audit_unavailable"
    body = response.json()
    assert response.status_code == 503 and body["status"] == "not_ready"
    assert any("audit spool cannot be written" in r for r in body["reasons"])
