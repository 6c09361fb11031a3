"""`skein db migrate | status`: bring the Postgres schema to this gateway's version.

The DSN and schema come from ``audit.postgres_dsn`` / ``audit.postgres_schema`` unless
``--dsn`` / ``--schema`` say otherwise. Exit codes: 0 done (``status``: up to date), 1 the
database failed or (``status``) is behind or ahead, 2 bad arguments or configuration.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import asyncpg

from gateway.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, fail, settings_from
from gateway.db.migrate import Migration, SchemaError, check_schema, connect, migrate

T = TypeVar("T")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    db = commands.add_parser("db", help="migrate the Postgres schema (audit, state)")
    actions = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    for name, help_text, handler in (
        ("migrate", "apply pending migrations (safe to run from several replicas)", _migrate),
        ("status", "check that the schema matches this gateway", _status),
    ):
        parser = actions.add_parser(name, help=help_text)
        parser.add_argument("--dsn", help="Postgres DSN (default: audit.postgres_dsn)")
        parser.add_argument("--schema", help="Postgres schema (default: audit.postgres_schema)")
        parser.set_defaults(handler=handler)


def target(args: argparse.Namespace) -> tuple[str, str]:
    """The DSN and schema from the arguments, else from the settings."""
    if args.dsn and args.schema:
        return args.dsn, args.schema
    audit = settings_from(args).audit
    dsn = args.dsn or audit.postgres_dsn
    if not dsn:
        fail("no Postgres DSN: pass --dsn or set audit.postgres_dsn", EXIT_USAGE)
    return dsn, args.schema or audit.postgres_schema


def _migrate(args: argparse.Namespace) -> int:
    dsn, schema = target(args)
    applied = _run(_apply(dsn, schema))
    for migration in applied:
        print(f"applied {migration.version:04d}_{migration.name}")
    print(f"schema {schema!r} is up to date" if applied else f"schema {schema!r} was already up to date")
    return EXIT_OK


async def _apply(dsn: str, schema: str) -> list[Migration]:
    conn = await connect(dsn, schema)
    try:
        return await migrate(conn, schema)
    finally:
        await conn.close()


def _status(args: argparse.Namespace) -> int:
    dsn, schema = target(args)
    version = _run(_check(dsn, schema))
    print(f"schema {schema!r} is at version {version}: up to date")
    return EXIT_OK


async def _check(dsn: str, schema: str) -> int:
    conn = await connect(dsn, schema)
    try:
        return await check_schema(conn, schema)
    finally:
        await conn.close()


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run one database step; connection and schema failures become a clear exit."""
    try:
        return asyncio.run(coro)
    except SchemaError as exc:
        fail(str(exc), EXIT_FAILED)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        fail(f"Postgres: {exc}", EXIT_FAILED)
