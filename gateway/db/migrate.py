"""Versioned SQL migrations for the Postgres store, and the start-up schema check.

Migrations are the ``NNNN_name.sql`` files in ``gateway/audit/migrations``, applied in
order, each in its own transaction together with its row in ``skein_migrations``. Everything
lives in one Postgres schema (``audit.postgres_schema``, default ``skein``), selected through
``search_path`` so the SQL files never name it.

``skein db migrate`` is the only thing that changes the schema. A gateway only *checks* it
(``check_schema``) and refuses to start when it is behind (run the migration first) or ahead
(a newer gateway migrated it; rolling back the binary must not write into it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

import asyncpg

_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# Serializes concurrent ``skein db migrate`` runs (two replicas' init containers).
_LOCK_KEY = 0x736B65696E  # "skein"

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS skein_migrations (
    version    integer     PRIMARY KEY,
    name       text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)"""


class SchemaError(Exception):
    """The database schema is missing, behind or ahead of this gateway."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def migrations() -> tuple[Migration, ...]:
    """The packaged migrations, in version order."""
    found = []
    for entry in resources.files("gateway.audit.migrations").iterdir():
        match = _FILE.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    return tuple(found)


def latest_version() -> int:
    return migrations()[-1].version


def quoted_schema(schema: str) -> str:
    if not _SCHEMA_NAME.match(schema):
        raise SchemaError(f"invalid schema name {schema!r} (lower-case letters, digits, _)")
    return f'"{schema}"'


# The server probes an idle session's client after 30 s and drops it after 3 failed probes:
# a writer killed without closing its connection releases its locks within about a minute.
_KEEPALIVE = {"tcp_keepalives_idle": "30", "tcp_keepalives_interval": "10", "tcp_keepalives_count": "3"}


async def connect(
    dsn: str, schema: str, *, timeout: float = 10.0, keepalive: bool = False, **kwargs: Any
) -> asyncpg.Connection:
    """A connection whose ``search_path`` is the Skein schema."""
    quoted_schema(schema)
    settings = {"search_path": schema, **(_KEEPALIVE if keepalive else {})}
    conn: asyncpg.Connection = await asyncpg.connect(dsn, timeout=timeout, server_settings=settings, **kwargs)
    return conn


async def current_version(conn: asyncpg.Connection) -> int:
    """The applied schema version; 0 when nothing was migrated yet."""
    exists = await conn.fetchval("SELECT to_regclass('skein_migrations') IS NOT NULL")
    if not exists:
        return 0
    version = await conn.fetchval("SELECT coalesce(max(version), 0) FROM skein_migrations")
    return int(version)


async def migrate(conn: asyncpg.Connection, schema: str) -> list[Migration]:
    """Apply every pending migration; returns those applied (none when up to date)."""
    applied: list[Migration] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {quoted_schema(schema)}")
        await conn.execute(_CREATE_TABLE)
        version = await current_version(conn)
        if version > latest_version():
            raise SchemaError(_ahead(schema, version))
        for migration in migrations():
            if migration.version > version:
                # A savepoint per file: the error names the file that failed.
                async with conn.transaction():
                    await conn.execute(migration.sql)
                    await conn.execute(
                        "INSERT INTO skein_migrations (version, name) VALUES ($1, $2)",
                        migration.version,
                        migration.name,
                    )
                applied.append(migration)
    return applied


async def check_schema(conn: asyncpg.Connection, schema: str) -> int:
    """Raise ``SchemaError`` unless the schema is exactly at this gateway's version."""
    version = await current_version(conn)
    latest = latest_version()
    if version < latest:
        raise SchemaError(
            f"Postgres schema {schema!r} is at version {version}, this gateway needs {latest}:"
            " run `skein db migrate` first"
        )
    if version > latest:
        raise SchemaError(_ahead(schema, version))
    return version


def _ahead(schema: str, version: int) -> str:
    return (
        f"Postgres schema {schema!r} is at version {version}, newer than this gateway"
        f" (knows up to {latest_version()}): upgrade the gateway"
    )
