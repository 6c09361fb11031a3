"""Which controller store a gateway uses: the same database as its audit log.

With ``audit.sink: postgres`` the controller tables live in the same Postgres schema (one
``skein db migrate`` creates both); otherwise in ``<state_dir>/controller.db``.
"""

from __future__ import annotations

from gateway.db.controller import ControllerStore
from gateway.db.controller_pg import PostgresControllerStore
from gateway.db.controller_sqlite import SqliteControllerStore
from gateway.settings import Settings


def controller_store_from_settings(settings: Settings) -> ControllerStore:
    audit = settings.audit
    if audit.sink == "postgres" and audit.postgres_dsn:
        return PostgresControllerStore(audit.postgres_dsn, audit.postgres_schema)
    return SqliteControllerStore(settings.state_dir / "controller.db")
