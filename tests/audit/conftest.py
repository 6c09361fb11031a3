"""Shared audit test helpers: an event factory and a small SQLite log built with the real sink."""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.audit.event import AuditEvent
from gateway.audit.sqlite import SqliteSink

EventFactory = Callable[..., AuditEvent]


def build_event(i: int, **overrides: Any) -> AuditEvent:
    """Event ``i``: alternating subs, every third one denied, a second apart."""
    denied = i % 3 == 0
    values: dict[str, Any] = {
        "id": f"ev-{i}",
        "ts": 1_800_000_000.0 + i,
        "request_id": f"req-{i}",
        "route": "/v1/chat/completions",
        "action": "chat",
        "sub": "alice" if i % 2 else "bob",
        "roles": ("finance",),
        "tenant": "acme",
        "requested_model": "gpt-4o",
        "served_model": None if denied else "gpt-4o-mini",
        "allow": not denied,
        "reasons": ("model_not_allowed",) if denied else ("model_downshifted",),
        "status": 403 if denied else 200,
        "tokens_in": 10 * i,
        "cost_usd": 0.001 * i,
        "latency_ms": {"total": 12.5, "decide": 0.25},
        "guard_entities": {"EMAIL_ADDRESS": 1},
    }
    values.update(overrides)
    return AuditEvent(**values)


@pytest.fixture
def make_event() -> EventFactory:
    return build_event


async def write_log(path: Path, count: int, instance_id: str = "local", start: int = 1) -> None:
    sink = SqliteSink(path, instance_id)
    await sink.open()
    try:
        await sink.append([build_event(i) for i in range(start, start + count)])
    finally:
        await sink.close()


LogWriter = Callable[..., Awaitable[None]]


@pytest.fixture
def log_writer() -> LogWriter:
    return write_log


@pytest.fixture
async def audit_db(tmp_path: Path) -> Path:
    """An intact log of five records (seq 1..5) in one chain."""
    path = tmp_path / "audit.db"
    await write_log(path, 5)
    return path


@pytest.fixture
def db(audit_db: Path) -> Iterator[sqlite3.Connection]:
    """A read-write connection for tampering with ``audit_db``."""
    conn = sqlite3.connect(audit_db, isolation_level=None)
    yield conn
    conn.close()
