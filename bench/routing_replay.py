"""Replay a mixed workload through the real gateway and report what routing saved (issue 18).

    .venv/bin/python -m bench.routing_replay [--calls 800] [--seed 18] [--budget 1.0] [--out FILE.md]

The gateway runs in process (app and lifespan, real Rego over the repository's policies)
with one extra role, ``replay``: the sample finance profile's models (lead claude-3-5-sonnet,
worker gpt-4o-mini, summaries and classifications to the worker, a downshift to
claude-3-5-haiku at 85% of the daily budget) and a daily budget small enough that the
workload's demand is several times the budget. Two fake providers (``openai``,
``anthropic``) answer on loopback with the usage a real one would report: the prompt's
tokens (4 bytes a token) in, ``max_tokens`` out. A fifth of the calls for the lead's work hit a
provider in trouble (claude-3-5-sonnet answers 503), so retries and fallbacks run too; a fifth
of the calls stream.

It reports:

* the share of summary calls served by a cheaper model than asked for (target >= 50%);
* spend, as the providers would bill it and as the gateway accounted it, against the budget
  (target: within +-10%);
* calls by outcome, attempts, fallbacks;
* the latency the gateway adds: a call that needs one retry against one that does not (the
  retry's backoff set to 0, so the figure is the gateway's own cost of a retry), and the
  happy path with routing off against routing on (retries, fallbacks, breakers configured).

No network beyond 127.0.0.1; nothing is written outside a temporary directory unless --out.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
from aiohttp import web

from gateway.app import create_app
from gateway.auth.apikeys import hash_api_key
from gateway.settings import Settings

REPO = Path(__file__).resolve().parent.parent
KEY = "sk-replay-0000000000000000"
CHAT = "/v1/chat/completions"
PRICES = {  # USD per 1k tokens (in, out), as bundles/models.yaml
    "gpt-4o-mini": (0.00015, 0.0006),
    "claude-3-5-sonnet-latest": (0.003, 0.015),
    "claude-3-5-haiku-latest": (0.0008, 0.004),
}
PROFILE = """\
role: replay
display_name: Routing replay
models:
  allowed: [gpt-4o-mini, claude-3-5-*]
  default: claude-3-5-sonnet
  lead: claude-3-5-sonnet
  worker: gpt-4o-mini
  worker_tasks: [summarize, classify]
  downshift:
    - {budget_used_pct: 85, from: claude-3-5-sonnet, to: claude-3-5-haiku}
providers:
  allowed: [openai, anthropic]
privacy:
  mode: "off"
budgets: {daily_usd: BUDGET}
"""
# What the workload asks for: (share, task, model, prompt tokens, max_tokens).
MIX = (
    (0.40, "summarize", "lead", 3000, 250),
    (0.10, "summarize", "claude-3-5-sonnet", 2000, 200),
    (0.15, "classify", "claude-3-5-sonnet", 400, 10),
    (0.20, "code", "lead", 1500, 700),
    (0.10, "plan", "claude-3-5-sonnet", 1200, 500),
    (0.05, None, "claude-3-5-sonnet", 800, 300),
)
FLAKY = "[[flaky]]"  # claude-3-5-sonnet answers calls carrying this with 503 (retry fails, fallback)
ONCE = "[[once]]"  # any model answers a call carrying this with 503 the first time (a retry helps)


# -- the fake providers --------------------------------------------------------------------------


@dataclass
class Billing:
    """What the fake providers would bill: every successful answer's tokens at catalog prices."""

    usd: float = 0.0
    answers: Counter[str] = field(default_factory=Counter)
    failed_once: set[str] = field(default_factory=set)

    def charge(self, model: str, tokens_in: int, tokens_out: int) -> None:
        price_in, price_out = PRICES[model]
        self.usd += (tokens_in * price_in + tokens_out * price_out) / 1000
        self.answers[model] += 1


def fake_provider(billing: Billing) -> web.Application:
    async def chat(request: web.Request) -> web.StreamResponse:
        body = orjson.loads(await request.read())
        model = str(body["model"])
        text = " ".join(str(m.get("content", "")) for m in body.get("messages", []))
        overloaded = {"error": {"message": "overloaded", "type": "server_error"}}
        if FLAKY in text and model == "claude-3-5-sonnet-latest":  # a provider in trouble
            return web.json_response(overloaded, status=503)
        if ONCE in text and text not in billing.failed_once:  # a blip: the same call works again
            billing.failed_once.add(text)
            return web.json_response(overloaded, status=503)
        tokens_in, tokens_out = max(1, len(text) // 4), int(body.get("max_tokens") or 100)
        billing.charge(model, tokens_in, tokens_out)
        usage = {
            "prompt_tokens": tokens_in,
            "completion_tokens": tokens_out,
            "total_tokens": tokens_in + tokens_out,
        }
        base = {"id": "chatcmpl-replay", "created": 0, "model": model}
        if not body.get("stream"):
            message = {"role": "assistant", "content": "ok"}
            choice = {"index": 0, "message": message, "finish_reason": "stop"}
            return web.json_response(
                {**base, "object": "chat.completion", "choices": [choice], "usage": usage}
            )
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        chunk = {**base, "object": "chat.completion.chunk"}
        delta = {"index": 0, "delta": {"role": "assistant", "content": "ok"}, "finish_reason": None}
        await response.write(b"data: " + orjson.dumps({**chunk, "choices": [delta]}) + b"\n\n")
        done = {"index": 0, "delta": {}, "finish_reason": "stop"}
        await response.write(b"data: " + orjson.dumps({**chunk, "choices": [done]}) + b"\n\n")
        await response.write(b"data: " + orjson.dumps({**chunk, "choices": [], "usage": usage}) + b"\n\n")
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    app = web.Application(client_max_size=16 * 1024 * 1024)
    app.router.add_post("/v1/chat/completions", chat)
    return app


async def start_provider(billing: Billing) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(fake_provider(billing), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server = site._server
    assert server is not None and server.sockets  # type: ignore[union-attr]
    port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


# -- the gateway ---------------------------------------------------------------------------------


def settings_for(state: Path, bundles: Path, base_url: str, routing: dict[str, Any]) -> Settings:
    return Settings.model_validate(
        {
            "state_dir": state,
            "bundle": {"policies_dir": REPO / "policies", "profiles_dir": bundles, "verify": False},
            "auth": {
                "api_keys": [
                    {"name": "replay", "sha256": hash_api_key(KEY), "sub": "replay", "roles": ["replay"]}
                ]
            },
            "guard": {"enabled": False},
            "policy": {"decision_cache_size": 4096},
            "providers": {
                "openai": {"base_url": base_url + "/v1", "api_key_env": None},
                "anthropic": {"base_url": base_url + "/v1", "api_key_env": None},
            },
            "routing": routing,
        }
    )


def bundle_dir(root: Path, budget: float) -> Path:
    target = root / "bundles"
    shutil.copytree(REPO / "bundles", target)
    (target / "profiles" / "replay.yaml").write_text(PROFILE.replace("BUDGET", str(budget)), encoding="utf-8")
    return target


class Gateway:
    """The app with its lifespan, behind an httpx client (as the tests run it)."""

    def __init__(self, settings: Settings) -> None:
        self._app = create_app(settings)
        self._lifespan: Any = None
        self.client: httpx.AsyncClient | None = None

    async def __aenter__(self) -> httpx.AsyncClient:
        app = self._app
        self._lifespan = app.app.router.lifespan_context(app.app)
        state = await self._lifespan.__aenter__()

        async def with_state(scope: Any, receive: Any, send: Any) -> None:
            scope["state"] = dict(state or {})
            await app(scope, receive, send)

        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=with_state), base_url="http://skein"
        )
        return self.client

    async def __aexit__(self, *exc: object) -> None:
        assert self.client is not None
        await self.client.aclose()
        await self._lifespan.__aexit__(None, None, None)


# -- the workload --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    n: int
    task: str | None
    model: str
    prompt_tokens: int
    max_tokens: int
    stream: bool
    flaky: bool


def workload(calls: int, seed: int) -> list[Job]:
    rng = random.Random(seed)
    jobs = []
    for n in range(calls):
        point, acc = rng.random(), 0.0
        for entry in MIX:
            acc += entry[0]
            if point <= acc:
                break
        _, task, model, prompt, out = entry
        flaky = task not in ("summarize", "classify") and rng.random() < 0.2
        jobs.append(Job(n, task, model, prompt, out, rng.random() < 0.2, flaky))
    return jobs


def request_body(job: Job) -> dict[str, Any]:
    words = "lorem ipsum dolor sit amet consectetur adipiscing elit " * (job.prompt_tokens // 14 + 1)
    text = words[: job.prompt_tokens * 4 - 60] + (FLAKY if job.flaky else "") + f" call {job.n:08d}"
    body: dict[str, Any] = {
        "model": job.model,
        "messages": [{"role": "user", "content": text}],
        "max_tokens": job.max_tokens,
    }
    if job.stream:
        body["stream"] = True
    return body


@dataclass
class Tally:
    outcomes: Counter[str] = field(default_factory=Counter)
    served: Counter[tuple[str | None, str]] = field(default_factory=Counter)
    summaries: int = 0
    summaries_cheaper: int = 0
    flaky_served: Counter[str] = field(default_factory=Counter)


async def replay(client: httpx.AsyncClient, jobs: list[Job]) -> Tally:
    tally = Tally()
    for job in jobs:  # one caller, one call at a time: the budget's order of events is the workload's
        headers = {"authorization": f"Bearer {KEY}"}
        if job.task:
            headers["x-skein-task"] = job.task
        response = await client.post(CHAT, json=request_body(job), headers=headers)
        if response.status_code != 200:
            code = response.json()["error"]["code"]
            tally.outcomes[f"{response.status_code} {code}"] += 1
            continue
        tally.outcomes["200"] += 1
        served = response.headers["x-skein-model"]
        if job.flaky:
            tally.flaky_served[served] += 1
        tally.served[(job.task, served)] += 1
        if job.task == "summarize":
            tally.summaries += 1
            tally.summaries_cheaper += served != "claude-3-5-sonnet"
    return tally


def metric_sum(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


# -- latency: the cost of a retry, and of routing on the happy path ------------------------------


async def latencies(client: httpx.AsyncClient, n: int, text: str) -> list[float]:
    """Overhead the gateway reports (x-skein-overhead-ms) and the whole call, per call."""
    whole = []
    for i in range(n):
        body = {
            "model": "gpt-4o-mini",
            "messages": [{"role": "user", "content": f"{text} {i}"}],
            "max_tokens": 5,
        }
        started = time.perf_counter()
        response = await client.post(CHAT, json=body, headers={"authorization": f"Bearer {KEY}"})
        whole.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.text
    return whole


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.routing_replay", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--calls", type=int, default=800)
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--budget", type=float, default=1.0, help="the replay role's daily USD budget")
    parser.add_argument("--latency-calls", type=int, default=300)
    parser.add_argument("--out", type=Path, help="also write the report (markdown) here")
    args = parser.parse_args(argv)

    billing = Billing()
    runner, base_url = await start_provider(billing)
    lines: list[str] = []
    try:
        with tempfile.TemporaryDirectory(prefix="skein-replay-") as scratch:
            root = Path(scratch)
            bundles = bundle_dir(root, args.budget)
            routing = {
                "retries": 1,
                "backoff_seconds": 0.001,
                "max_backoff_seconds": 0.002,
                "fallbacks": {"claude-3-5-sonnet": ["claude-3-5-haiku", "gpt-4o-mini"]},
                "breaker_failures": 50,
            }
            async with Gateway(settings_for(root / "state", bundles, base_url, routing)) as client:
                started = time.perf_counter()
                tally = await replay(client, workload(args.calls, args.seed))
                seconds = time.perf_counter() - started
                metrics = (await client.get("/metrics")).text
            lines += report(args, tally, billing, metrics, seconds)

            # The gateway's cost of one retry: the same call, with and without one 503 first.
            retry_lat = await retry_cost(root, bundles, base_url, args.latency_calls)
            lines += retry_lat
    finally:
        await runner.cleanup()
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


async def retry_cost(root: Path, bundles: Path, base_url: str, n: int) -> list[str]:
    """Median whole-call latency in process: routing off, routing on (happy path), one retry."""
    off = settings_for(root / "state-off", bundles, base_url, {})
    on_routing = {
        "retries": 1,
        "backoff_seconds": 0.0,
        "max_backoff_seconds": 0.0,
        "fallbacks": {"gpt-4o-mini": ["claude-3-5-haiku"]},
        "breaker_failures": 1000,
    }
    on = settings_for(root / "state-on", bundles, base_url, on_routing)
    results: dict[str, float] = {}
    # Interleaved rounds, so a noisy moment of the machine hits both alike.
    samples: dict[str, list[float]] = {"routing off": [], "routing on": [], "one retry (backoff 0)": []}
    async with Gateway(off) as plain, Gateway(on) as routed:
        await latencies(plain, 20, "warm up")
        await latencies(routed, 20, "warm up")
        for round_ in range(3):  # every text unique: [[once]] fails each call's first attempt
            samples["routing off"] += await latencies(plain, n // 3, f"hello {round_}")
            samples["routing on"] += await latencies(routed, n // 3, f"hello {round_}")
            samples["one retry (backoff 0)"] += await latencies(routed, n // 3, f"hello {ONCE} {round_}")
    for name, values in samples.items():
        results[name] = statistics.median(values)
    return [
        "",
        "## Latency in process (median of whole calls, fake provider on loopback)",
        "",
        "| case | median ms |",
        "|---|---|",
        *(f"| {name} | {value:.2f} |" for name, value in results.items()),
        "",
        f"One retry adds {results['one retry (backoff 0)'] - results['routing on']:.2f} ms of the gateway's"
        " own work and the second round trip, plus the backoff (0.125-0.25 s with the defaults, or the"
        " provider's Retry-After).",
    ]


def report(
    args: argparse.Namespace, tally: Tally, billing: Billing, metrics: str, seconds: float
) -> list[str]:
    flaky = ", ".join(f"{model}: {count}" for model, count in sorted(tally.flaky_served.items())) or "none"
    share = tally.summaries_cheaper / tally.summaries if tally.summaries else 0.0
    cheaper, budget = f"{tally.summaries_cheaper}/{tally.summaries}", args.budget

    def spent(usd: float) -> str:
        return f"${usd:.4f} = {usd / budget:.1%} of budget"

    def downshifts(reason: str) -> float:
        return metric_sum(metrics, "skein_downshifts_total", reason=reason)

    accounted = metric_sum(metrics, "skein_cost_usd_total", role="replay")
    attempts = Counter(
        {
            outcome: metric_sum(metrics, "skein_upstream_attempts_total", outcome=outcome)
            for outcome in ("ok", "status_503")
        }
    )
    demand = (
        sum(
            (p * PRICES["claude-3-5-sonnet-latest"][0] + o * PRICES["claude-3-5-sonnet-latest"][1]) / 1000 * s
            for s, _, _, p, o in MIX
        )
        * args.calls
    )
    served_rows = sorted(tally.served.items(), key=lambda kv: (str(kv[0][0]), kv[0][1]))
    return [
        f"# Routing replay: {args.calls} calls, seed {args.seed}, daily budget ${args.budget:.2f}",
        "",
        f"Demand at the lead's prices: ${demand:.2f} ({demand / args.budget:.1f}x the budget). "
        f"Replayed in {seconds:.1f} s.",
        "",
        "| figure | value | target |",
        "|---|---|---|",
        f"| summary calls served by a cheaper model | {cheaper} = {share:.0%} | >= 50% |",
        f"| spend billed by the providers | {spent(billing.usd)} | 90-110% |",
        f"| spend accounted by the gateway | {spent(accounted)} | 90-110% |",
        f"| task downshifts (metric) | {downshifts('task_downshifted'):.0f} | |",
        f"| budget downshifts (metric) | {downshifts('model_downshifted'):.0f} | |",
        f"| upstream attempts ok / 503 | {attempts['ok']:.0f} / {attempts['status_503']:.0f} | |",
        f"| calls hitting the failing provider, answered (by model) | {flaky} | all |",
        "",
        "| outcome | calls |",
        "|---|---|",
        *(f"| {outcome} | {count} |" for outcome, count in sorted(tally.outcomes.items())),
        "",
        "| task | served by | calls |",
        "|---|---|---|",
        *(f"| {task or '(none)'} | {model} | {count} |" for (task, model), count in served_rows),
    ]


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
