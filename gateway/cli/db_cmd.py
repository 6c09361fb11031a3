"""`skein db migrate | status`: bring the Postgres schema to this gateway's version.

The DSN and schema come from ``audit.postgres_dsn`` / ``audit.postgres_schema`` unless
``--dsn`` / ``--schema`` say otherwise. Exit codes: 0 done (``status``: up to date); 1
``status`` found the schema behind or ahead, or a migration failed; 2 bad arguments or
configuration; 3 Postgres cannot be reached (or refused the login).
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from gateway.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    add_json_flag,
    fail,
    print_json,
    settings_from,
)

if TYPE_CHECKING:
    import asyncpg

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
        add_json_flag(parser)
        parser.set_defaults(handler=handler)


def target(args: argparse.Namespace) -> tuple[str, str]:
    """The DSN and schema from the arguments, else from the settings."""
    from gateway.db.migrate import SchemaError, quoted_schema

    if args.dsn and args.schema:
        dsn, schema = args.dsn, args.schema
    else:
        audit = settings_from(args).audit
        dsn, schema = args.dsn or audit.postgres_dsn, args.schema or audit.postgres_schema
        if not dsn:
            fail(
                "no Postgres DSN: pass --dsn or set audit.postgres_dsn (SKEIN_AUDIT__POSTGRES_DSN)",
                EXIT_USAGE,
            )
    try:
        quoted_schema(schema)
    except SchemaError as exc:
        fail(f"--schema / audit.postgres_schema: {exc}", EXIT_USAGE)
    return dsn, schema


def _migrate(args: argparse.Namespace) -> int:
    from gateway.db.migrate import migrate

    dsn, schema = target(args)
    applied = _run(dsn, schema, lambda conn: migrate(conn, schema))
    names = [f"{m.version:04d}_{m.name}" for m in applied]
    if args.json:
        print_json({"schema": schema, "applied": names, "up_to_date": True})
        return EXIT_OK
    for name in names:
        print(f"applied {name}")
    print(f"schema {schema!r} is up to date" if applied else f"schema {schema!r} was already up to date")
    return EXIT_OK


def _status(args: argparse.Namespace) -> int:
    from gateway.db.migrate import check_schema, current_version, latest_version

    dsn, schema = target(args)
    if args.json:
        version, latest = _run(dsn, schema, current_version), latest_version()
        current = version == latest
        print_json({"schema": schema, "version": version, "expected": latest, "up_to_date": current})
        return EXIT_OK if current else EXIT_FAILED
    # Behind or ahead: check_schema's message (run `skein db migrate` / upgrade) and exit 1.
    version = _run(dsn, schema, lambda conn: check_schema(conn, schema))
    print(f"schema {schema!r} is at version {version}: up to date")
    return EXIT_OK


def _run(dsn: str, schema: str, step: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    """Connect (failure: exit 3), run one step (failure: exit 1), close."""
    import asyncpg

    from gateway.db.migrate import SchemaError, connect

    async def run() -> T:
        try:
            conn = await connect(dsn, schema)
        except (OSError, TimeoutError, asyncpg.PostgresConnectionError) as exc:
            raise _Exit(f"cannot connect to Postgres: {_one_line(exc)}", EXIT_UNAVAILABLE) from exc
        except (asyncpg.InvalidAuthorizationSpecificationError, asyncpg.InvalidCatalogNameError) as exc:
            message = f"Postgres refused the connection: {_one_line(exc)} (check the DSN)"
            raise _Exit(message, EXIT_UNAVAILABLE) from exc
        try:
            return await step(conn)
        except SchemaError as exc:
            raise _Exit(str(exc), EXIT_FAILED) from exc
        except asyncpg.PostgresError as exc:
            raise _Exit(f"Postgres: {_one_line(exc)}", EXIT_FAILED) from exc
        finally:
            await conn.close()

    try:
        return asyncio.run(run())
    except _Exit as exc:
        fail(str(exc), exc.code)


class _Exit(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def _one_line(exc: Any) -> str:
    return " ".join(str(exc).split())
