"""Decision cost: the embedded engine (regorus) beside today's (regopy), in the same run.

    .venv/bin/python -m bench.policy_bench [--rounds 5] [--calls 300]

For each engine: cold compile (modules + data, once per bundle), an uncached decision for
a mix of inputs (allow, deny, downshift, models.list, tool call), and a decision-cache hit.
regorus runs the shipped policies; regopy runs the policies as they were written for it
(git show of the last commit before the switch, or --regopy-dir), because the shipped ones
use Rego that rego-cpp gets wrong. Medians of ``--rounds``; figures in bench/README.md.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gateway.bundle.source import DirectorySource
from gateway.policy.cache import DecisionCache, cache_key
from gateway.policy.embedded import EmbeddedEngine
from gateway.policy.engine import parse_decision
from gateway.policy.rego_data import bundle_data

ROOT = Path(__file__).resolve().parents[1]
REGOPY_POLICIES_COMMIT = "9c1ac87"  # main before the engine switch: policies written for rego-cpp


def inputs() -> list[dict[str, Any]]:
    def chat(roles: list[str], model: str, **extra: Any) -> dict[str, Any]:
        return {
            "principal": {"sub": "a", "roles": roles},
            "action": "chat",
            "resource": {"model": model},
            **extra,
        }

    return [
        chat(["finance"], "gpt-4o-mini", time="2026-11-24T10:00:00Z"),
        chat(["finance"], "gpt-4o"),
        chat(["developer"], "gpt-4o", usage={"spend_today_usd": 45.0}),
        {"principal": {"roles": ["legal"]}, "action": "models.list"},
        {
            "principal": {"roles": ["developer"]},
            "action": "tools.call",
            "resource": {"server": "github", "tool": "merge_pr"},
        },
    ]


def median_us(run: Callable[[], object], calls: int, rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(calls):
            run()
        samples.append((time.perf_counter() - started) / calls * 1e6)
    return statistics.median(samples)


def regopy_policies(directory: Path | None) -> dict[str, str]:
    if directory is not None:
        return {p.name: p.read_text() for p in directory.glob("*.rego") if not p.name.endswith("_test.rego")}
    names = subprocess.run(
        ["git", "-C", str(ROOT), "ls-tree", "--name-only", REGOPY_POLICIES_COMMIT, "policies/"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    return {
        Path(n).name: subprocess.run(
            ["git", "-C", str(ROOT), "show", f"{REGOPY_POLICIES_COMMIT}:{n}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for n in names
        if n.endswith(".rego") and not n.endswith("_test.rego")
    }


def regopy_engine(modules: dict[str, str], data: dict[str, Any]) -> Callable[[dict[str, Any]], Any]:
    import orjson
    from regopy import Input, Interpreter, LogLevel

    interpreter = Interpreter()
    interpreter.log_level = LogLevel.NONE
    for name in sorted(modules):
        interpreter.add_module(name, modules[name])
    interpreter.add_data_json(orjson.dumps(data).decode())
    bundle = interpreter.build(None, ["gateway/decision"])

    def decide(policy_input: dict[str, Any]) -> Any:
        interpreter.set_input(Input(policy_input))
        out = interpreter.query_bundle_entrypoint(bundle, "gateway/decision")
        return parse_decision(out.results[0].expressions[0])

    return decide


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--regopy-dir", type=Path, help="policies for regopy (default: git history)")
    args = parser.parse_args()
    content = DirectorySource(ROOT / "policies", ROOT / "bundles").read()
    data = bundle_data(content.catalog, content.profiles)
    mix = inputs()

    started = time.perf_counter()
    engine = EmbeddedEngine(content.policies, data, cache_size=0)
    regorus_compile = (time.perf_counter() - started) * 1000
    rows = [("regorus", regorus_compile, lambda i: engine.decide_sync(i))]

    old = regopy_policies(args.regopy_dir)
    started = time.perf_counter()
    regopy = regopy_engine(old, data)
    rows.append(("regopy", (time.perf_counter() - started) * 1000, regopy))

    cache = DecisionCache(16)
    key = cache_key(mix[0])
    cache.put(key, engine.decide_sync(mix[0]))
    hit = median_us(lambda: cache.get(cache_key(mix[0])), args.calls * 10, args.rounds)

    print("| engine | cold compile | uncached decision (mix of 5) | per input | cache hit |")
    print("|---|---|---|---|---|")
    for name, compile_ms, decide in rows:
        per_input = [median_us(lambda i=i, d=decide: d(i), args.calls, args.rounds) for i in mix]
        print(
            f"| {name} | {compile_ms:.1f} ms | {statistics.mean(per_input):.0f} µs | "
            + " / ".join(f"{us:.0f}" for us in per_input)
            + f" µs | {hit:.1f} µs |"
        )


if __name__ == "__main__":
    main()
