"""Nothing lost, under faults: the real server, the real Postgres and Redis, cut and hung.

One gateway (``skein serve``) at a time writes one audit chain; between the gateway and each
server sits a TCP proxy (``tests/support/tcpproxy.py``). A load of concurrent callers runs
against it, and the gateway is killed with SIGKILL at a moment drawn from a seeded random
generator (the same moments on every run), then started again on the same state directory:

1. killed under load (phases 1 and 2; and once more with the SQLite log, below);
2. killed while Postgres hangs (phase 3): accepted connections, no answers;
3. started while Postgres is cut (phase 4: it must come up, degraded, from its spool), then
   killed during the cut;
4. finally (phase 5) the spool drains and the gateway stops cleanly.

Then every response a caller received, whatever its status, must have exactly one audit
record, and ``verify`` must pass with no missing range. The figures (answered, audited,
lost) are printed per phase. A second, shorter test does the same with the embedded SQLite
log, and puts a Redis blip (every pooled connection reset) in the restarted gateway's way:
once Redis is back, no call may fail.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import orjson
import pytest
import yaml

from gateway.audit.verify import verify_sqlite
from gateway.db.audit_read import verify_postgres
from gateway.db.migrate import connect, migrate
from tests.support.issuer import TokenIssuer
from tests.support.server import REPO, _plain, free_port
from tests.support.services import unique_name
from tests.support.tcpproxy import TcpProxy
from tests.support.upstream import FakeProvider

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]

CHAIN = "gw-faults"
CALLERS = 16  # concurrent connections
PRINCIPALS = 64


# -- the gateway process ---------------------------------------------------------------------


class Replica:
    """``skein serve`` as a subprocess that can be killed without any shutdown."""

    def __init__(self, home: Path, config: dict[str, Any]) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self._path = home / "skein.yaml"
        config = {**config, "server": {"port": self.port}}
        self._path.write_text(yaml.safe_dump(_plain(config)))
        self._log = home / "server.log"
        self._process: subprocess.Popen[bytes] | None = None

    async def start(self) -> dict[str, Any]:
        """Start and wait until /readyz answers 200 (ready or degraded); returns its body."""
        with open(self._log, "ab") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "gateway", "--config", str(self._path), "serve"],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPO,
                env={**os.environ, "PYTHONPATH": str(REPO)},
            )
        deadline = time.monotonic() + 120  # imports alone take seconds on a loaded box
        async with httpx.AsyncClient(timeout=2) as client:
            while time.monotonic() < deadline:
                if self._process.poll() is not None:
                    raise RuntimeError(f"skein serve exited:\n{self._log.read_text()[-4000:]}")
                try:
                    ready = await client.get(self.base + "/readyz")
                    if ready.status_code == 200:
                        body: dict[str, Any] = ready.json()
                        return body
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError(f"skein serve did not become ready:\n{self._log.read_text()[-4000:]}")

    def kill(self) -> None:
        if self._process is not None:
            self._process.send_signal(signal.SIGKILL)
            self._process.wait()

    async def stop(self) -> None:
        if self._process is not None:
            self._process.send_signal(signal.SIGTERM)
            await asyncio.to_thread(self._process.wait, 60)

    async def readyz(self) -> dict[str, Any]:
        async with httpx.AsyncClient(timeout=5) as client:
            body: dict[str, Any] = (await client.get(self.base + "/readyz")).json()
            return body

    async def until_ready(
        self, check: Callable[[dict[str, Any]], bool], seconds: float = 60
    ) -> dict[str, Any]:
        deadline = time.monotonic() + seconds
        while True:
            body = await self.readyz()
            if check(body) or time.monotonic() > deadline:
                return body
            await asyncio.sleep(0.1)


# -- the callers ---------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    answered: dict[str, int] = field(default_factory=dict)  # request id -> status received
    unanswered: int = 0  # calls cut off by the kill
    samples: dict[int, str] = field(default_factory=dict)  # status -> one body, for failures


async def load(
    replica: Replica,
    tokens: list[str],
    phase: Phase,
    answers: int,
    *,
    then: Callable[[], None] | None = None,
) -> None:
    """Call until ``answers`` more responses arrived, then run ``then`` (the kill) at once."""
    target = len(phase.answered) + answers
    done = asyncio.Event()
    counter = iter(range(10**9))

    async def caller(client: httpx.AsyncClient) -> None:
        while not done.is_set():
            i = next(counter)
            denied = i % 5 == 4  # one call in five asks for a model the role may not use
            body = {
                "model": "gpt-4o" if denied else "gpt-4o-mini",
                "max_tokens": 10,
                "messages": [{"role": "user", "content": f"call {i}"}],
            }
            headers = {"authorization": f"Bearer {tokens[i % len(tokens)]}"}
            try:
                response = await client.post(
                    replica.base + "/v1/chat/completions", json=body, headers=headers
                )
            except httpx.HTTPError:
                phase.unanswered += 1
                if then is not None and done.is_set():
                    return
                await asyncio.sleep(0.01)
                continue
            phase.answered[response.headers["x-skein-request-id"]] = response.status_code
            phase.samples.setdefault(response.status_code, response.text[:300])
            if len(phase.answered) >= target and not done.is_set():
                done.set()
                if then is not None:
                    then()  # SIGKILL now: the other callers are mid-request

    limits = httpx.Limits(max_connections=CALLERS, max_keepalive_connections=CALLERS)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        await asyncio.gather(*(caller(client) for _ in range(CALLERS)))


# -- checking ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tally:
    name: str
    answered: int
    audited: int
    lost: int
    duplicated: int
    statuses: str

    def row(self) -> str:
        return (
            f"{self.name:<28} answered {self.answered:>5}  audited {self.audited:>5}  lost {self.lost}"
            f"  duplicated {self.duplicated}  ({self.statuses})"
        )


def tally(phases: list[Phase], records: dict[str, int]) -> list[Tally]:
    rows = []
    for phase in phases:
        ids = phase.answered
        counts = [records.get(rid, 0) for rid in ids]
        statuses: dict[int, int] = {}
        for status in ids.values():
            statuses[status] = statuses.get(status, 0) + 1
        rows.append(
            Tally(
                phase.name,
                len(ids),
                sum(1 for c in counts if c == 1),
                sum(1 for c in counts if c == 0),
                sum(1 for c in counts if c > 1),
                ", ".join(f"{n}x{s}" for s, n in sorted(statuses.items())),
            )
        )
    return rows


def report(rows: list[Tally], capsys: pytest.CaptureFixture[str], title: str) -> None:
    sums = [sum(getattr(r, f) for r in rows) for f in ("answered", "audited", "lost", "duplicated")]
    total = Tally("total", sums[0], sums[1], sums[2], sums[3], "")
    with capsys.disabled():
        print(f"\n{title}")
        for row in [*rows, total]:
            print("  " + row.row())


# -- fixtures ------------------------------------------------------------------------------


def via(dsn: str, port: int) -> str:
    parts = urlsplit(dsn)
    user = f"{parts.username}@" if parts.username else ""
    return urlunsplit(parts._replace(netloc=f"{user}127.0.0.1:{port}"))


@pytest.fixture
async def schema(postgres_dsn: str) -> AsyncIterator[str]:
    name = unique_name("skein_faults")
    conn = await connect(postgres_dsn, name)
    try:
        await migrate(conn, name)
        yield name
        await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture
async def pg_proxy(postgres_dsn: str) -> AsyncIterator[TcpProxy]:
    parts = urlsplit(postgres_dsn)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    await proxy.start()
    yield proxy
    proxy.resume()
    await proxy.stop()


@pytest.fixture
async def redis_proxy(redis_url: str) -> AsyncIterator[TcpProxy]:
    parts = urlsplit(redis_url)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 6379)
    await proxy.start()
    yield proxy
    await proxy.stop()


def base_config(home: Path, issuer: TokenIssuer, provider: FakeProvider) -> dict[str, Any]:
    """The repository's bundle plus a ``faults`` role: guard off (the gateway starts without
    the NER model), gpt-4o-mini only (so gpt-4o is denied), no budget or rate limit."""
    bundles = home / "bundles"
    shutil.copytree(REPO / "bundles", bundles)
    role = {
        "role": "faults",
        "display_name": "Fault-suite caller",
        "models": {"allowed": ["gpt-4o-mini"], "default": "gpt-4o-mini"},
        "privacy": {"mode": "off"},
    }
    (bundles / "profiles" / "faults.yaml").write_text(yaml.safe_dump(role))
    return {
        "state_dir": home / "state",
        "bundle": {"policies_dir": REPO / "policies", "profiles_dir": bundles, "verify": False},
        "auth": {"issuer": issuer.issuer, "audience": issuer.audience},
        "providers": {"openai": {"base_url": provider.base_url}},
        "guard": {"enabled": False},
    }


def callers(issuer: TokenIssuer) -> list[str]:
    return [issuer.mint(sub=f"caller-{n}", roles=["faults"]) for n in range(PRINCIPALS)]


async def audited_ids(dsn: str, schema: str) -> dict[str, int]:
    conn = await connect(dsn, schema)
    try:
        rows = await conn.fetch(
            "SELECT event::json->>'request_id' AS rid, count(*) AS n FROM audit_events"
            " WHERE instance_id = $1 GROUP BY 1",
            CHAIN,
        )
    finally:
        await conn.close()
    return {row["rid"]: row["n"] for row in rows}


# -- the tests -----------------------------------------------------------------------------


async def test_no_answered_call_loses_its_audit_record_under_kills_hangs_and_cuts(
    tmp_path: Path,
    token_issuer_session: TokenIssuer,
    fake_provider: FakeProvider,
    postgres_dsn: str,
    schema: str,
    pg_proxy: TcpProxy,
    redis_url: str,
    redis_prefix: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    rng = random.Random(14)  # the kill moments: drawn at random, the same on every run
    tokens = callers(token_issuer_session)
    config = base_config(tmp_path, token_issuer_session, fake_provider)
    config["audit"] = {
        "sink": "postgres",
        "postgres_dsn": via(postgres_dsn, pg_proxy.port),
        "postgres_schema": schema,
        "instance_id": CHAIN,
        "postgres_timeout_seconds": 1.0,
        "replay_interval_seconds": 0.2,
        "flush_interval_ms": 20,
    }
    config["state"] = {"backend": "redis", "redis_url": redis_url, "key_prefix": redis_prefix}
    phases: list[Phase] = []

    def phase(name: str) -> Phase:
        phases.append(Phase(name))
        return phases[-1]

    # 1, 2: killed under load at random moments.
    for run in (1, 2):
        replica = Replica(tmp_path, config)
        await replica.start()
        await load(
            replica, tokens, phase(f"{run}. SIGKILL under load"), rng.randint(100, 400), then=replica.kill
        )

    # 3: killed while Postgres hangs (it accepts, and never answers).
    replica = Replica(tmp_path, config)
    await replica.start()
    hung = phase("3. SIGKILL, Postgres hung")
    await load(replica, tokens, hung, rng.randint(50, 150))
    pg_proxy.pause()
    await load(replica, tokens, hung, rng.randint(100, 300))  # answered from the spool meanwhile
    degraded = await replica.until_ready(lambda b: b["status"] == "degraded")
    assert degraded["status"] == "degraded" and "audit store" in degraded["reasons"][0], degraded
    replica.kill()

    # 4: started while Postgres is cut, then killed during the cut.
    pg_proxy.resume()
    await pg_proxy.stop()
    replica = Replica(tmp_path, config)
    started = await replica.start()  # comes up from its spool
    assert started["status"] == "degraded", started
    await load(replica, tokens, phase("4. start + SIGKILL, cut"), rng.randint(100, 400), then=replica.kill)
    await pg_proxy.start()

    # 5: Postgres is back; the last start ships what phase 4 left in the spool, stops cleanly.
    replica = Replica(tmp_path, config)
    await replica.start()
    await load(replica, tokens, phase("5. clean run"), 100)
    drained = await replica.until_ready(lambda b: b["audit"]["backlog"] == 0 and b["status"] == "ready")
    assert drained["status"] == "ready", drained
    await replica.stop()

    records = await audited_ids(postgres_dsn, schema)
    rows = tally(phases, records)
    report(rows, capsys, "audit under faults (Postgres sink, spool, SIGKILL):")
    assert all(r.lost == 0 and r.duplicated == 0 for r in rows), [r.row() for r in rows]
    assert all(n == 1 for n in records.values())  # not even an unanswered call twice
    verified = await verify_postgres(postgres_dsn, schema)
    assert verified.ok and not verified.gaps, verified.summary()
    assert verified.records == len(records) >= sum(r.answered for r in rows)


async def test_the_sqlite_log_survives_a_kill_and_a_redis_blip_fails_no_call(
    tmp_path: Path,
    token_issuer_session: TokenIssuer,
    fake_provider: FakeProvider,
    redis_proxy: TcpProxy,
    redis_prefix: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    rng = random.Random(41)
    tokens = callers(token_issuer_session)
    config = base_config(tmp_path, token_issuer_session, fake_provider)
    config["audit"] = {"instance_id": CHAIN}  # SQLite, the default
    config["state"] = {
        "backend": "redis",
        "redis_url": f"redis://127.0.0.1:{redis_proxy.port}/0",
        "key_prefix": redis_prefix,
        "max_connections": 8,
        # Only the blip may fail calls here: on a loaded box a call can wait long for a
        # pooled connection, and that wait (not what is tested) is bounded by this timeout.
        "socket_timeout_seconds": 5.0,
    }
    killed, before, after = (
        Phase("SIGKILL under load"),
        Phase("before a Redis blip"),
        Phase("after the Redis blip"),
    )
    replica = Replica(tmp_path, config)
    await replica.start()
    await load(replica, tokens, killed, rng.randint(100, 400), then=replica.kill)

    replica = Replica(tmp_path, config)
    await replica.start()
    await load(replica, tokens, before, 100)  # every pooled Redis connection in use
    await redis_proxy.stop()  # a Redis restart, a network blip: all of them reset
    await redis_proxy.start()
    await load(replica, tokens, after, 200)
    assert 503 not in after.answered.values(), after.samples[503]
    await replica.until_ready(lambda b: b["audit"]["backlog"] == 0)
    await replica.stop()

    db = tmp_path / "state" / "audit.db"
    verified = verify_sqlite(db)
    assert verified.ok, verified.summary()
    import sqlite3

    conn = sqlite3.connect(db)
    try:
        records: dict[str, int] = {}
        for (event,) in conn.execute("SELECT event FROM audit_events"):
            rid = orjson.loads(event)["request_id"]
            records[rid] = records.get(rid, 0) + 1
    finally:
        conn.close()
    rows = tally([killed, before, after], records)
    report(rows, capsys, "audit under faults (SQLite sink, spool, SIGKILL; Redis blip):")
    assert all(r.lost == 0 and r.duplicated == 0 for r in rows), [r.row() for r in rows]
