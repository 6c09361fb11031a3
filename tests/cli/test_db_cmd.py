"""``skein db status | migrate``: 0 up to date, 1 behind, 3 unreachable; ``--json``."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest

from gateway.cli.common import EXIT_FAILED, EXIT_OK, EXIT_UNAVAILABLE, EXIT_USAGE
from gateway.db.migrate import latest_version
from tests.cli.conftest import Run
from tests.support.services import unique_name

pytestmark = pytest.mark.postgres


def test_status_of_a_migrated_schema(skein: Run, postgres_dsn: str, pg_schema: str) -> None:
    code, out, _ = skein("db", "status", "--dsn", postgres_dsn, "--schema", pg_schema, "--json")
    assert code == EXIT_OK
    assert json.loads(out) == {
        "schema": pg_schema,
        "version": latest_version(),
        "expected": latest_version(),
        "up_to_date": True,
    }


def test_a_schema_behind_is_exit_1_then_migrate_fixes_it(skein: Run, postgres_dsn: str) -> None:
    # A sync test: `skein` runs its own event loop, as it does from a shell.
    schema = unique_name("skein_cli")
    try:
        code, _, err = skein("db", "status", "--dsn", postgres_dsn, "--schema", schema)
        assert code == EXIT_FAILED and "run `skein db migrate` first" in err
        code, out, _ = skein("db", "migrate", "--dsn", postgres_dsn, "--schema", schema, "--json")
        assert code == EXIT_OK and len(json.loads(out)["applied"]) == latest_version()
        assert skein("db", "status", "--dsn", postgres_dsn, "--schema", schema)[0] == EXIT_OK
    finally:
        asyncio.run(drop(postgres_dsn, schema))


async def drop(dsn: str, schema: str) -> None:
    from gateway.db.migrate import connect

    conn = await connect(dsn, schema)
    await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    await conn.close()


def test_an_unreachable_server_is_exit_3(skein: Run) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    code, _, err = skein(
        "db", "status", "--dsn", f"postgresql://postgres@127.0.0.1:{port}/test", "--schema", "x"
    )
    assert code == EXIT_UNAVAILABLE and err.startswith("skein: cannot connect to Postgres")


def test_a_bad_schema_name_is_a_usage_error(skein: Run, postgres_dsn: str) -> None:
    code, _, err = skein("db", "status", "--dsn", postgres_dsn, "--schema", "Robert'); DROP")
    assert code == EXIT_USAGE and "invalid schema name" in err
