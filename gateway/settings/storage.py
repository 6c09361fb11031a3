"""The ``audit`` and ``state`` sections: where audit records go, and the state replicas share
(budgets, rate limits, idempotency keys)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from gateway.settings.base import Strict


class AuditSettings(Strict):
    """Where audit records go (docs/audit.md). Every record reaches the local spool before its
    call is answered; a background shipper moves it into the store (``sink``)."""

    sink: Literal["sqlite", "postgres"] = "sqlite"
    instance_id: str | None = None  # names this writer's hash chain; default: the host name
    sqlite_path: Path | None = None  # default: <state_dir>/audit.db
    postgres_dsn: str | None = None
    postgres_schema: str = Field("skein", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    postgres_timeout_seconds: float = Field(5.0, gt=0)  # connect and store timeout
    # The spool: segments <stem>.NNNNNN.ndjson beside this path (default:
    # <state_dir>/audit-spool-<instance_id>.ndjson, which earlier versions' spool file had).
    spool_path: Path | None = None
    spool_max_bytes: int = Field(1024**3, gt=0)  # full: calls are refused (503 audit_unavailable)
    fsync: bool = False  # false: survives a killed process; true: also power loss (group fsync)
    replay_interval_seconds: float = Field(1.0, gt=0)  # longest wait between retries of a failing store
    retention_days: int | None = Field(None, gt=0)  # Postgres: prune older records hourly
    queue_size: int = Field(10_000, gt=0)  # no longer used (records go to the spool); old configs load
    batch_size: int = Field(256, gt=0)  # records per store transaction
    flush_interval_ms: int = Field(100, gt=0)  # how long the shipper lets a batch gather

    @model_validator(mode="after")
    def _postgres_needs_dsn(self) -> AuditSettings:
        if self.sink == "postgres" and not self.postgres_dsn:
            raise ValueError("sink 'postgres' needs audit.postgres_dsn")
        return self


class ScopeBudget(Strict):
    """A spend limit shared by every principal of one role or tenant."""

    daily_usd: float | None = Field(None, ge=0)
    monthly_usd: float | None = Field(None, ge=0)


class StateSettings(Strict):
    """Shared state for several replicas (docs/operations-postgres-redis.md).

    ``backend: memory`` (default) is one process; ``redis`` shares budgets, rate limits and
    idempotency keys. Per feature, Redis being unreachable either fails the request
    (``closed``: 503) or lets it through uncounted (``open``, logged and counted).
    """

    backend: Literal["memory", "redis"] = "memory"
    redis_url: str = "redis://127.0.0.1:6379/0"
    key_prefix: str = "skein:"
    socket_timeout_seconds: float = Field(0.5, gt=0)  # every Redis call: never a hang
    connect_timeout_seconds: float = Field(1.0, gt=0)  # opening a pooled connection
    max_connections: int = Field(32, gt=0)  # per process; a burst queues for a connection
    budgets_on_error: Literal["closed", "open"] = "closed"
    rate_limits_on_error: Literal["closed", "open"] = "open"
    idempotency_on_error: Literal["closed", "open"] = "closed"
    idempotency_ttl_seconds: int = Field(24 * 3600, gt=0)
    idempotency_pending_seconds: int = Field(600, gt=0)  # a crashed replica's claim expires
    default_max_tokens: int = Field(4096, gt=0)  # reservation bound when a call sets none
    role_budgets: dict[str, ScopeBudget] = {}
    tenant_budgets: dict[str, ScopeBudget] = {}
