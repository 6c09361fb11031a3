"""CPU per call through the whole gateway app in-process, with tracing as the environment says.

    .venv/bin/python -m bench.trace_cost                       # tracing off (no OTEL_* set)
    OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 .venv/bin/python -m bench.trace_cost
    OTEL_EXPORTER_OTLP_ENDPOINT=... OTEL_TRACES_SAMPLER=traceidratio OTEL_TRACES_SAMPLER_ARG=0.1 ...

Buffered chat calls (the echo provider, the guard off, dev-mode tokens, audit to SQLite in a
temporary directory) through the ASGI app, no network: the process CPU time per call isolates
what the gateway (and the tracing SDK's export thread) spends, which wall-clock load tests on a
shared machine cannot. Prints the best and the median of the rounds (docs/observability.md).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import yaml
from starlette.types import Receive, Scope, Send

from gateway.app import create_app
from gateway.auth.devkey import DevKey
from gateway.settings import Settings

REPO = Path(__file__).resolve().parent.parent


def bench_bundles(tmp: Path) -> Path:
    """The repository's profiles plus a ``bench`` role with the guard off (as bench/targets.py)."""
    bundles = tmp / "bundles"
    shutil.copytree(REPO / "bundles", bundles)
    profile = {
        "role": "bench",
        "display_name": "Benchmark caller",
        "description": "Written by bench/trace_cost.py.",
        "models": {"allowed": ["gpt-4o-mini"], "default": "gpt-4o-mini"},
        "privacy": {"mode": "off"},
    }
    (bundles / "profiles" / "bench.yaml").write_text(yaml.safe_dump(profile, sort_keys=False))
    return bundles


async def measure(calls: int, rounds: int, state_dir: Path) -> list[float]:
    settings = Settings.model_validate(
        {
            "state_dir": state_dir,
            "log_level": "warning",
            "dev": {"enabled": True},
            "guard": {"enabled": False},
            "bundle": {
                "policies_dir": REPO / "policies",
                "profiles_dir": bench_bundles(state_dir),
                "verify": False,
            },
        }
    )
    token = DevKey.load_or_create(state_dir, settings.dev).mint("bench", ["bench"])
    app = create_app(settings)
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello " * 200}]}
    headers = {"authorization": f"Bearer {token}"}
    per_call: list[float] = []
    async with app.app.router.lifespan_context(app.app) as state:

        async def with_state(scope: Scope, receive: Receive, send: Send) -> None:
            scope["state"] = dict(state or {})
            await app(scope, receive, send)

        transport = httpx.ASGITransport(app=with_state)
        async with httpx.AsyncClient(transport=transport, base_url="http://skein.bench") as client:

            async def call() -> Any:
                response = await client.post("/v1/chat/completions", json=body, headers=headers)
                assert response.status_code == 200, response.text

            for _ in range(200):  # warm: caches, the policy engine, the audit writer
                await call()
            for _ in range(rounds):
                started = time.process_time()
                for _ in range(calls):
                    await call()
                per_call.append((time.process_time() - started) / calls)
    return per_call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        per_call = asyncio.run(measure(args.calls, args.rounds, Path(tmp)))
    micro = [round(seconds * 1e6) for seconds in per_call]
    print(f"CPU per call: best {min(micro)} us, median {statistics.median(micro):.0f} us; rounds {micro}")


if __name__ == "__main__":
    main()
