"""The real Postgres and Redis for tests, and the one rule for when they are missing.

A test that needs a service asks for ``postgres_dsn`` / ``redis_url`` (or the per-test
``pg_schema`` / ``redis_prefix``). When the server does not answer, the test fails if
``CI=true`` (CI must never pass by skipping) and is skipped with the reason otherwise.
Every test gets its own schema or key prefix, so runs in parallel (``-n 2``) and repeated
runs never see each other's data, and nothing else on the servers is touched.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest

DEFAULT_POSTGRES_DSN = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), 2):
            return True
    except OSError:
        return False


def _require(name: str, url: str, default_port: int) -> str:
    if _reachable(url, default_port):
        return url
    message = f"{name} is not reachable at {url}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} (CI=true: service tests must run)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_dsn() -> str:
    return _require("PostgreSQL", os.environ.get("SKEIN_TEST_POSTGRES_DSN", DEFAULT_POSTGRES_DSN), 5432)


@pytest.fixture(scope="session")
def redis_url() -> str:
    return _require("Redis", os.environ.get("SKEIN_TEST_REDIS_URL", DEFAULT_REDIS_URL), 6379)


def unique_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def pg_schema(postgres_dsn: str) -> AsyncIterator[str]:
    """A fresh, migrated Postgres schema for one test; dropped afterwards."""
    from gateway.db.migrate import connect, migrate

    schema = unique_name("skein_test")
    conn = await connect(postgres_dsn, schema)
    try:
        await migrate(conn, schema)
        yield schema
    finally:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await conn.close()


@pytest.fixture
async def redis_prefix(redis_url: str) -> AsyncIterator[str]:
    """A key prefix for one test; its keys (and only those) are deleted afterwards."""
    import redis.asyncio as redis

    prefix = unique_name("skeintest") + ":"
    yield prefix
    client = redis.from_url(redis_url)
    try:
        async for key in client.scan_iter(match=prefix + "*", count=1000):
            await client.delete(key)
    finally:
        await client.aclose()
