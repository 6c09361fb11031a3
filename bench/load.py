"""Load generators (wrk and the SSE client), each run with CPU accounting around it."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import proc
from bench.control import McpSession
from bench.targets import Rig, Target

WRK_ERRORS = ("err_connect", "err_read", "err_write", "err_status", "err_timeout")


def wrk(
    rig: Rig, target: Target, body: Path, conc: int, duration: float, mcp: McpSession | None = None
) -> dict[str, Any]:
    """`wrk -t1 -cN -dD` pinned to the rig CPU; returns the Lua summary (see bench/wrk.lua).
    With ``mcp``, the body is a JSON-RPC message POSTed to the target's MCP path in that session."""
    out_json = rig.run_dir / "wrk_last.json"
    out_json.unlink(missing_ok=True)
    env = {
        **os.environ,
        "BENCH_BODY": str(body),
        "BENCH_TOKEN": target.token,
        "BENCH_JSON": str(out_json),
        "BENCH_HEADER": target.header,
    }
    if mcp is not None:
        env["BENCH_PATH"] = mcp.path
        env["BENCH_HEADERS"] = "\n".join(f"{k}: {v}" for k, v in mcp.headers.items())
    command = [
        "taskset", "-c", rig.rig_cpus, "wrk", "-t1", f"-c{conc}", f"-d{duration:g}s", "--timeout", "10s",
        "-s", str(rig.bench_dir / "wrk.lua"), target.url,
    ]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=duration + 60)
    if done.returncode != 0 or not out_json.exists():
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr[-500:]}")
    result: dict[str, Any] = json.loads(out_json.read_text())
    result["errors"] = sum(result[key] for key in WRK_ERRORS)
    return result


def sse(rig: Rig, target: Target, body: Path, conc: int, duration: float, warmup: float) -> dict[str, Any]:
    """The Python SSE client pinned to the rig CPU; returns its JSON summary."""
    command = [
        "taskset", "-c", rig.rig_cpus, rig.python, "-m", "bench.sse_client", "--url", target.url,
        "--body", str(body), "--token", target.token, "--header", target.header,
        "-c", str(conc), "-d", f"{duration:g}", "--warmup", f"{warmup:g}",
    ]  # fmt: skip
    done = subprocess.run(
        command, cwd=rig.repo, capture_output=True, text=True, timeout=duration + warmup + 60
    )
    if done.returncode != 0:
        raise RuntimeError(f"sse client failed ({done.returncode}): {done.stderr[-500:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def accounted(
    run: Callable[[], dict[str, Any]], target_pids: set[int], upstream_pids: set[int]
) -> dict[str, Any]:
    """Run a load generator and charge CPU to target, upstream, load generator and foreign."""
    children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    target0, upstream0, busy0 = (
        proc.cpu_seconds(target_pids),
        proc.cpu_seconds(upstream_pids),
        proc.cpu_busy(),
    )
    started = time.monotonic()
    result = run()
    wall = time.monotonic() - started
    target1, upstream1, busy1 = (
        proc.cpu_seconds(target_pids),
        proc.cpu_seconds(upstream_pids),
        proc.cpu_busy(),
    )
    children1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    loadgen = (children1.ru_utime - children0.ru_utime) + (children1.ru_stime - children0.ru_stime)
    target_cpu, upstream_cpu = target1 - target0, upstream1 - upstream0
    foreign = proc.busy_seconds(busy0, busy1) - target_cpu - upstream_cpu - loadgen
    result.update(
        {
            "target_cpu_s": round(target_cpu, 3),
            "upstream_cpu_s": round(upstream_cpu, 3),
            "loadgen_cpu_s": round(loadgen, 3),
            "foreign_cpu_s": round(max(0.0, foreign), 3),
            "foreign_cores": round(max(0.0, foreign) / max(wall, 0.1), 3),
            "wall_s": round(wall, 2),
            "cpu_busy": proc.busy_share(busy0, busy1),
            "loadavg": proc.loadavg(),
        }
    )
    return result
