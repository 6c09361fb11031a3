"""Two ``skein serve`` replicas on one Postgres and one Redis, under concurrent load.

* audit: each replica writes its own chain into the shared store; nothing is lost and
  ``skein audit verify --dsn`` passes on the combined log;
* budgets: a role budget shared by both replicas is never overspent, however the calls race;
* idempotency: a retry sent to the other replica replays the first replica's response.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as redis

from gateway.db.migrate import connect
from tests.support.issuer import TokenIssuer
from tests.support.server import REPO, serve, skein
from tests.support.services import unique_name
from tests.support.upstream import FakeProvider

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]

BUDGET_USD = 0.002  # a reservation for max_tokens=1000 on gpt-4o-mini is about $0.0006


@pytest.fixture
async def schema(postgres_dsn: str) -> AsyncIterator[str]:
    name = unique_name("skein_e2e")
    migrated = await asyncio.to_thread(skein, "db", "migrate", "--dsn", postgres_dsn, "--schema", name)
    assert migrated.returncode == 0, migrated.stderr
    yield name
    conn = await connect(postgres_dsn, name)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    finally:
        await conn.close()


@contextmanager
def replicas(
    tmp: Path, issuer: TokenIssuer, provider: FakeProvider, dsn: str, schema: str, redis_url: str, prefix: str
) -> Iterator[list[str]]:
    with ExitStack() as stack:
        bases = []
        for name in ("gw-a", "gw-b"):
            home = tmp / name
            home.mkdir()
            config: dict[str, Any] = {
                "state_dir": home / "state",
                "bundle": {
                    "policies_dir": REPO / "policies",
                    "profiles_dir": REPO / "bundles",
                    "verify": False,
                },
                "auth": {"issuer": issuer.issuer, "audience": issuer.audience},
                "providers": {"openai": {"base_url": provider.base_url}},
                # One guard thread per replica serves 30 concurrent calls here. Waiting for
                # it is not work time (guard/admission.py); the work limit is raised too,
                # because on a 2-core box shared with other jobs one short batch has been
                # seen to take longer than the 2 s default while the replicas warm up.
                "guard": {"executor": "thread", "workers": 1, "timeout_seconds": 30},
                "audit": {
                    "sink": "postgres",
                    "postgres_dsn": dsn,
                    "postgres_schema": schema,
                    "instance_id": name,
                },
                "state": {
                    "backend": "redis",
                    "redis_url": redis_url,
                    "key_prefix": prefix,
                    "role_budgets": {"finance": {"daily_usd": BUDGET_USD}},
                },
            }
            bases.append(stack.enter_context(serve(config, home)))
        yield bases


def chat(max_tokens: int = 1000) -> dict[str, Any]:
    return {
        "model": "gpt-4o-mini",
        "max_tokens": max_tokens,
        "messages": [{"role": "user", "content": "Summarise Q3 spend"}],
    }


async def test_replicas_share_one_verifiable_audit_log(
    tmp_path: Path,
    token_issuer_session: TokenIssuer,
    fake_provider: FakeProvider,
    postgres_dsn: str,
    schema: str,
    redis_url: str,
    redis_prefix: str,
) -> None:
    issuer = token_issuer_session
    with replicas(tmp_path, issuer, fake_provider, postgres_dsn, schema, redis_url, redis_prefix) as bases:
        async with httpx.AsyncClient(timeout=30) as client:

            async def call(i: int) -> int:
                token = issuer.mint(sub=f"user-{i}", roles=["finance"])
                response = await client.post(
                    bases[i % 2] + "/v1/chat/completions",
                    json=chat(max_tokens=10),
                    headers={"authorization": f"Bearer {token}"},
                )
                assert response.status_code == 200, response.text
                return response.status_code

            statuses = await asyncio.gather(*(call(i) for i in range(60)))
    assert statuses.count(200) > 0
    # The replicas stopped (SIGTERM): both drained their queues into Postgres.
    verified = await asyncio.to_thread(skein, "audit", "verify", "--dsn", postgres_dsn, "--schema", schema)
    assert verified.returncode == 0, verified.stderr
    assert "60 records in 2 chains" in verified.stdout, verified.stdout


async def test_replicas_share_budgets_and_idempotency(
    tmp_path: Path,
    token_issuer_session: TokenIssuer,
    fake_provider: FakeProvider,
    postgres_dsn: str,
    schema: str,
    redis_url: str,
    redis_prefix: str,
) -> None:
    issuer = token_issuer_session
    with replicas(tmp_path, issuer, fake_provider, postgres_dsn, schema, redis_url, redis_prefix) as bases:
        async with httpx.AsyncClient(timeout=30) as client:

            async def call(i: int) -> httpx.Response:
                token = issuer.mint(sub=f"user-{i}", roles=["finance"])
                return await client.post(
                    bases[i % 2] + "/v1/chat/completions",
                    json=chat(),
                    headers={"authorization": f"Bearer {token}"},
                )

            responses = await asyncio.gather(*(call(i) for i in range(40)))
            refused = [r for r in responses if r.status_code == 429]
            assert refused and all(r.json()["error"]["code"] == "budget_exceeded" for r in refused)
            assert all(r.headers.get("retry-after") for r in refused)

            token = issuer.mint(sub="retrier", roles=["finance"])
            headers = {"authorization": f"Bearer {token}", "idempotency-key": "order-42"}
            first = await client.post(bases[0] + "/v1/chat/completions", json=chat(10), headers=headers)
            retry = await client.post(bases[1] + "/v1/chat/completions", json=chat(10), headers=headers)
            other = await client.post(bases[1] + "/v1/chat/completions", json=chat(11), headers=headers)
    assert first.status_code == retry.status_code == 200
    assert retry.content == first.content
    # a replay is a call of its own (its own request id) that names the original one
    assert retry.headers["x-skein-idempotent-replay"] == first.headers["x-skein-request-id"]
    assert retry.headers["x-skein-request-id"] != first.headers["x-skein-request-id"]
    assert other.status_code == 422

    client_r = redis.from_url(redis_url)
    try:
        day = time.strftime("%Y-%m-%d", time.gmtime())
        settled = int(await client_r.get(f"{redis_prefix}spend:r:finance:{day}:usd") or 0)
    finally:
        await client_r.aclose()
    assert 0 < settled <= BUDGET_USD * 1_000_000  # settled spend never exceeds the budget
