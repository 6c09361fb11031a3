"""Scale-out: N gateway replicas (N = 2, 3) behind nginx over the real Postgres and Redis.

Through the load balancer only, as clients see it:

* throughput: a fixed batch of calls; each replica's CPU time is read from /proc, so the
  figure that matters (requests per CPU-second of one replica) does not depend on what else
  the machine is doing. ``SCALEOUT_REPORT=DIR`` writes the figures (``make scaleout-report``);
* rate limits: one caller's requests-per-minute is exact across replicas (the shared Redis
  window), never the limit times N;
* budgets: a role budget shared by the replicas is never overspent, and the spend Redis settled
  is exactly the sum of the costs in the audit log;
* idempotency: one Idempotency-Key sent to every replica at once reaches the provider once;
* audit: every response has exactly one record, every replica its own chain, and
  ``skein audit verify`` passes on the combined log.

Three replicas start once; nginx balances over two of them, then over all three.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as redis

from bench.proc import cpu_seconds, process_tree
from gateway.db.migrate import connect
from tests.deploy.fleet import Replica, load_balancer, replicas
from tests.support.issuer import TokenIssuer
from tests.support.server import REPO, skein
from tests.support.services import unique_name
from tests.support.upstream import FakeProvider

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]

ROLE_BUDGET_USD = 0.002  # analyst, shared; one call reserves about $0.0006 (max_tokens=1000)
FINANCE_RPM = 60  # bundles/profiles/finance.yaml rate_limits.requests_per_minute
# make test: enough calls to see round robin and count CPU; make scaleout-report uses 600.
THROUGHPUT_CALLS = int(os.environ.get("SCALEOUT_CALLS", "48"))
CONCURRENCY = 16
# At most 30 calls per caller: under any role's 60 requests per minute, so nothing is refused.
CALLERS = max(8, -(-THROUGHPUT_CALLS // 30))
# The guard is most of a call's CPU: one role whose profile runs the NER model, one regex-only.
GUARDED_ROLES = {"finance": "pseudonymize, NER + regex", "marketing": "mask, regex only"}


@pytest.fixture
async def schema(postgres_dsn: str) -> Any:
    name = unique_name("skein_scale")
    migrated = await asyncio.to_thread(skein, "db", "migrate", "--dsn", postgres_dsn, "--schema", name)
    assert migrated.returncode == 0, migrated.stderr
    yield name
    conn = await connect(postgres_dsn, name)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    finally:
        await conn.close()


def fleet_configs(
    n: int, issuer: TokenIssuer, provider: FakeProvider, dsn: str, schema: str, redis_url: str, prefix: str
) -> list[dict[str, Any]]:
    return [
        {
            "state_dir": f"state-{i}",
            "bundle": {"policies_dir": REPO / "policies", "profiles_dir": REPO / "bundles", "verify": False},
            "auth": {"issuer": issuer.issuer, "audience": issuer.audience},
            "providers": {"openai": {"base_url": provider.base_url}},
            # The guard fails closed after timeout_seconds; a busy shared machine must not trip it.
            "guard": {"executor": "thread", "workers": 1, "timeout_seconds": 30},
            "audit": {
                "sink": "postgres",
                "postgres_dsn": dsn,
                "postgres_schema": schema,
                "instance_id": f"gw-{i}",
            },
            "state": {
                "backend": "redis",
                "redis_url": redis_url,
                "key_prefix": prefix,
                "role_budgets": {"analyst": {"daily_usd": ROLE_BUDGET_USD}},
            },
        }
        for i in range(1, n + 1)
    ]


def chat(text: str, max_tokens: int = 10) -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "max_tokens": max_tokens, "messages": [{"role": "user", "content": text}]}


class Through:
    """The client side of the load balancer; counts every response it gets back."""

    def __init__(self, client: httpx.AsyncClient, issuer: TokenIssuer) -> None:
        self.client, self.issuer = client, issuer
        self.responses = 0
        self._tokens: dict[tuple[str, str], str] = {}

    async def post(self, sub: str, role: str, body: dict[str, Any], **headers: str) -> httpx.Response:
        token = self._tokens.get((sub, role))
        if token is None:
            token = self._tokens[(sub, role)] = self.issuer.mint(sub=sub, roles=[role])
        response = await self.client.post(
            "/v1/chat/completions", json=body, headers={"authorization": f"Bearer {token}", **headers}
        )
        self.responses += 1
        return response

    async def many(
        self, calls: list[tuple[str, str, dict[str, Any]]], headers: dict[str, str] | None = None
    ) -> list[httpx.Response]:
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(sub: str, role: str, body: dict[str, Any]) -> httpx.Response:
            async with gate:
                return await self.post(sub, role, body, **(headers or {}))

        return await asyncio.gather(*(one(*call) for call in calls))


async def measure_throughput(lb: Through, fleet: list[Replica], nginx_pid: int, role: str) -> dict[str, Any]:
    """A fixed batch of ``role``'s calls through the LB: wall time, CPU seconds per replica and nginx.

    Warmed up first (a replica's first calls pay one-off costs: the NER model's first run,
    the JWKS fetch, pool connections), so the figures are for a replica in service.
    """
    tag = f"tp{len(fleet)}-{role}"
    await lb.many([(f"{tag}-warm-{i}", role, chat("warm up")) for i in range(4 * len(fleet))])
    nginx = process_tree(set(), {nginx_pid})
    before = {r.name: cpu_seconds({r.pid}) for r in fleet} | {"nginx": cpu_seconds(nginx)}
    text = "Summarise Q3 spend for Alice Martin in Berlin, line {}"
    calls = [(f"{tag}-{i % CALLERS}", role, chat(text.format(i))) for i in range(THROUGHPUT_CALLS)]
    started = time.perf_counter()
    responses = await lb.many(calls)
    wall = time.perf_counter() - started
    after = {r.name: cpu_seconds({r.pid}) for r in fleet} | {"nginx": cpu_seconds(nginx)}
    failed = Counter(f"{r.status_code} {r.text[:200]}" for r in responses if r.status_code != 200)
    assert not failed, failed
    return {
        "role": role,
        "guard": GUARDED_ROLES[role],
        "calls": len(calls),
        "concurrency": CONCURRENCY,
        "wall_s": round(wall, 3),
        "cpu_s": {name: round(after[name] - before[name], 3) for name in before},
    }


async def check_rate_limit(lb: Through) -> None:
    """FINANCE_RPM + 15 calls of one caller at once: exactly FINANCE_RPM pass, whichever replica.

    A fixed UTC-minute window: a burst that straddles a minute boundary is retried with a
    fresh caller (the check needs one window, not a timing assumption).
    """
    for _ in range(3):
        sub, minute = f"rl-{uuid.uuid4().hex[:8]}", int(time.time()) // 60
        responses = await lb.many([(sub, "finance", chat("hi")) for _ in range(FINANCE_RPM + 15)])
        if int(time.time()) // 60 != minute:
            continue
        statuses = Counter(r.status_code for r in responses)
        assert statuses == {200: FINANCE_RPM, 429: 15}, statuses
        refused = [r for r in responses if r.status_code == 429]
        assert {r.json()["error"]["code"] for r in refused} == {"rate_limited"}
        assert all(int(r.headers["retry-after"]) >= 1 for r in refused)
        return
    pytest.fail("three bursts in a row straddled a minute boundary")


async def check_budget(lb: Through) -> list[httpx.Response]:
    """40 analysts at once against one shared role budget: some pass, the rest 429."""
    responses = await lb.many(
        # Each call holds its reservation for a second at the provider, so the burst overlaps
        # however the machine spreads it (settled alone, each call costs next to nothing).
        [(f"an-{i}", "analyst", chat("Forecast Q4 [[slow:1]]", max_tokens=1000)) for i in range(40)]
    )
    statuses = Counter(r.status_code for r in responses)
    assert statuses[200] >= 1 and statuses[429] >= 1 and statuses[200] + statuses[429] == 40, statuses
    refused = [r for r in responses if r.status_code == 429]
    assert {r.json()["error"]["code"] for r in refused} == {"budget_exceeded"}
    return responses


async def check_idempotency(lb: Through, fleet: list[Replica], provider: FakeProvider) -> None:
    """One key, sent 2N times at once (so every replica gets it): one provider call, one answer."""
    marker = f"order-{uuid.uuid4().hex[:8]}"
    body = chat(f"Place {marker}")
    headers = {"idempotency-key": marker}
    first = await lb.many([("retrier", "finance", body)] * (2 * len(fleet)), headers)
    assert {r.status_code for r in first} <= {200, 409}, [r.status_code for r in first]
    in_flight = [r for r in first if r.status_code == 409]
    assert all(r.json()["error"]["code"] == "idempotency_in_flight" for r in in_flight)
    # Exactly one call ran; every other 200 (now, and later on each replica) is its replay,
    # naming the original request in x-skein-idempotent-replay.
    executed = [r for r in first if r.status_code == 200 and "x-skein-idempotent-replay" not in r.headers]
    assert len(executed) == 1, [dict(r.headers) for r in first]
    original = executed[0]
    replays = [r for r in first if r.status_code == 200 and r is not original]
    replays += [await lb.post("retrier", "finance", body, **headers) for _ in range(len(fleet))]
    for replay in replays:
        assert replay.status_code == 200 and replay.content == original.content
        assert replay.headers["x-skein-idempotent-replay"] == original.headers["x-skein-request-id"]
    reached = [b for b in provider.received if marker in json.dumps(b)]
    assert len(reached) == 1, f"{len(reached)} provider calls for one Idempotency-Key"
    other = await lb.post("retrier", "finance", chat(f"Place {marker} twice"), **headers)
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"


async def audit_records(dsn: str, schema: str) -> list[dict[str, Any]]:
    conn = await connect(dsn, schema)
    try:
        rows = await conn.fetch("SELECT event FROM audit_events ORDER BY pos")
    finally:
        await conn.close()
    return [json.loads(row["event"]) for row in rows]


async def test_replicas_behind_a_load_balancer(
    tmp_path: Path,
    token_issuer_session: TokenIssuer,
    fake_provider: FakeProvider,
    postgres_dsn: str,
    schema: str,
    redis_url: str,
    redis_prefix: str,
) -> None:
    """Three replicas: nginx over two of them, then over all three (one start-up for both N)."""
    configs = fleet_configs(
        3, token_issuer_session, fake_provider, postgres_dsn, schema, redis_url, redis_prefix
    )
    for config in configs:  # relative state_dir: under this test's folder
        config["state_dir"] = tmp_path / config["state_dir"]
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    figures: dict[tuple[int, str], dict[str, Any]] = {}
    responses = 0
    with replicas(configs, tmp_path) as fleet:
        for n in (2, 3):
            with load_balancer([r.url for r in fleet[:n]], tmp_path / f"lb{n}") as (url, nginx):
                async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
                    lb = Through(client, token_issuer_session)
                    for role in GUARDED_ROLES:
                        figures[(n, role)] = await measure_throughput(lb, fleet[:n], nginx, role)
                    if n == 3:
                        await check_rate_limit(lb)
                        budgeted = await check_budget(lb)
                        await check_idempotency(lb, fleet, fake_provider)
                    responses += lb.responses
    # The replicas were stopped with SIGTERM: each drained its audit queue into Postgres.
    records = await audit_records(postgres_dsn, schema)
    assert len(records) == responses, f"{len(records)} audit records for {responses} responses"
    chains = Counter(r["instance_id"] for r in records)
    assert set(chains) == {r.name for r in fleet}, chains
    verified = await asyncio.to_thread(skein, "audit", "verify", "--dsn", postgres_dsn, "--schema", schema)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert f"{len(records)} records in 3 chains" in verified.stdout, verified.stdout

    # Budget: what Redis settled is exactly what the audit log says the allowed calls cost.
    allowed = [r for r in records if "analyst" in r["roles"] and r["status"] == 200]
    assert len(allowed) == sum(1 for r in budgeted if r.status_code == 200)
    client_r = redis.from_url(redis_url)
    try:
        day = time.strftime("%Y-%m-%d", time.gmtime())
        settled = int(await client_r.get(f"{redis_prefix}spend:r:analyst:{day}:usd") or 0)
    finally:
        await client_r.aclose()
    assert settled == sum(round(r["cost_usd"] * 1_000_000) for r in allowed)
    assert 0 < settled <= ROLE_BUDGET_USD * 1_000_000

    for (n, role), measured in figures.items():  # round robin: each replica behind the LB got its share
        measured_subs = {f"tp{n}-{role}-{i}" for i in range(CALLERS)}
        served = Counter(r["instance_id"] for r in records if r["sub"] in measured_subs)
        assert sum(served.values()) == measured["calls"] and len(served) == n, served
        report(n, role, {**measured, "served": dict(sorted(served.items()))})


def report(n: int, role: str, figures: dict[str, Any]) -> None:
    """Print the figures; with SCALEOUT_REPORT=DIR also write DIR/scaleout-N-ROLE.json."""
    figures = {"replicas": n, "loadavg": round(os.getloadavg()[0], 1), **figures}
    print(json.dumps(figures))
    folder = os.environ.get("SCALEOUT_REPORT")
    if folder:
        Path(folder, f"scaleout-{n}-{role}.json").write_text(json.dumps(figures, indent=2) + "\n")
