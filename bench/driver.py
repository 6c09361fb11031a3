"""The run loop: passes x targets x modes x concurrencies, with noise guard and retries.

For each pass, each target in turn is started (pinned to the proxy CPU), waited for,
smoke-tested, warmed up, then measured at every (mode, concurrency) point:

* wrk `-t1 -cN -dD` for requests/s (streams/s in stream mode) and latency percentiles;
* in stream mode also the SSE client against a paced upstream for time to first token;
* in mcp mode, for targets that serve MCP, wrk POSTs an MCP ``tools/call`` in a session the
  driver opened first (the fake upstream's MCP server directly, or through Skein);
* CPU charged to target / upstream / load generator / foreign around each run.

Before each point the driver waits (bounded) for the machine to be quiet; a point whose
foreign CPU exceeds the limit is flagged noisy and retried. Passes alternate the target
order (A B C, C B A, ...) so slow drift hits every target alike. The result is one JSON
document (see `bench.report` for how it is read); it is rewritten after every target so
an interrupted run still leaves its data.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from types import FrameType
from typing import IO, Any

from bench import control, load, machine, payloads, proc, targets
from bench.targets import Rig, Skip, Target

SCHEMA = 1


@dataclass(frozen=True)
class Options:
    targets: tuple[str, ...] = targets.DEFAULT_TARGETS
    modes: tuple[str, ...] = ("nonstream", "stream", "mcp")
    concs: tuple[int, ...] = (1, 16, 64)
    passes: int = 2
    duration: float = 20.0
    warmup: float = 3.0
    ttft: bool = True
    ttft_duration: float = 10.0
    pace_ms: int = 5
    quiet_cores: float = 0.15
    quiet_wait: float = 30.0
    max_foreign: float = 0.15
    retries: int = 1
    pause: float = 0.5
    quick: bool = False


class Run:
    """One benchmark run; `execute()` fills `self.doc` and writes it to `out`."""

    def __init__(self, options: Options, rig: Rig, out: Path):
        self.options, self.rig, self.out = options, rig, out
        self.doc: dict[str, Any] = {
            "schema": SCHEMA,
            "meta": {
                "started": _now(),
                "options": asdict(options),
                "rig": {"rig_cpus": rig.rig_cpus, "proxy_cpus": rig.proxy_cpus, "upstream": rig.upstream_url},
                "prompt_words": payloads.word_count(),
                "machine": machine.describe(targets.litellm_bin(rig)),
            },
            "targets": {},
            "records": [],
        }

    def execute(self) -> dict[str, Any]:
        signal.signal(signal.SIGTERM, _exit_on_signal)
        self.rig.run_dir.mkdir(parents=True, exist_ok=True)
        bodies = payloads.write_bodies(self.rig.run_dir / "bodies", self.options.pace_ms)
        with open(self.rig.run_dir / "targets.log", "a") as log:
            upstream = self._start_upstream(log)
            try:
                upstream_pids = proc.process_tree({upstream.pgid}, proc.listeners(self.rig.upstream_port))
                prepared = {name: targets.prepare(name, self.rig) for name in self.options.targets}
                for number in range(1, self.options.passes + 1):
                    order = list(self.options.targets)
                    for name in order if number % 2 else reversed(order):
                        prepared[name] = self._one_target(number, prepared[name], bodies, upstream_pids, log)
                        self.save()
            finally:
                upstream.stop()
                self.doc["meta"]["finished"] = _now()
                self.save()
        return self.doc

    def save(self) -> None:
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.out.write_text(json.dumps(self.doc, indent=1) + "\n")

    # ------------------------------------------------------------------------------------------
    def _start_upstream(self, log: IO[str]) -> control.Process:
        if proc.port_in_use(self.rig.upstream_port):
            sys.exit(
                f"port {self.rig.upstream_port} is busy: stop whatever listens there (or set UPSTREAM_PORT)"
            )
        command = (
            self.rig.python, "-m", "bench.upstream", "--port", str(self.rig.upstream_port),
            "--require-key", self.rig.upstream_key,
        )  # fmt: skip
        upstream = control.Process(command, self.rig.rig_cpus, {}, self.rig.repo, log)
        try:
            control.wait_ready(self.rig.upstream_url + "/health", "", 20, upstream)
        except control.TargetError:
            upstream.stop()
            raise
        return upstream

    def _one_target(
        self, number: int, item: Target | Skip, bodies: dict[str, Path], upstream_pids: set[int], log: IO[str]
    ) -> Target | Skip:
        """Measure one target in one pass; returns a Skip when it must not be tried again."""
        entry = self.doc["targets"].setdefault(item.name, {})
        if isinstance(item, Skip):
            entry.setdefault("skipped", item.reason)
            if number == 1:
                _say(f"[pass {number}] {item.name}: skipped: {item.reason}")
            return item
        entry.setdefault("note", item.note)
        log.write(f"\n===== {_now()} pass {number} start {item.name}: {' '.join(item.command)}\n")
        log.flush()
        process = None
        try:
            if item.command:
                if proc.port_in_use(item.port):
                    raise control.TargetError(f"port {item.port} already in use before starting {item.name}")
                process = control.Process(item.command, item.cpus, item.env, self.rig.repo, log)
            ready = control.wait_ready(
                item.url + item.ready_path, item.token, self.rig.ready_timeout_s, process
            )
            info = control.smoke(item, bodies)
            if item.guard_expected is not None:
                info["guard"] = control.check_guard(
                    item, self.rig.upstream_url, self.rig.upstream_key, bodies
                )
            entry.setdefault("ready_s", round(ready, 1))
            entry.setdefault("smoke", info)
            _say(f"[pass {number}] {item.name}: ready in {ready:.1f} s, smoke {info}")
            pids = proc.process_tree({process.pgid}, proc.listeners(item.port)) if process else set()
            for mode in self.options.modes:
                self._one_mode(number, item, mode, bodies, pids, upstream_pids)
            return item
        except control.TargetError as exc:
            entry["skipped"] = str(exc)
            _say(f"[pass {number}] {item.name}: skipped: {exc}")
            return Skip(item.name, str(exc))
        except (RuntimeError, ValueError, OSError, subprocess.SubprocessError) as exc:
            # a load generator failed against this target: keep what was measured, go on
            entry["skipped"] = f"pass {number}: measurement failed: {exc}"
            _say(f"[pass {number}] {item.name}: measurement failed: {exc}")
            return Skip(item.name, str(exc))
        finally:
            if process is not None:
                process.stop()

    def _one_mode(
        self,
        number: int,
        target: Target,
        mode: str,
        bodies: dict[str, Path],
        pids: set[int],
        upstream: set[int],
    ) -> None:
        opts = self.options
        body = bodies[mode]
        mcp = None
        if mode == "mcp":
            if target.mcp_path is None:
                return  # not an MCP gateway: no mcp row
            mcp = control.open_mcp(target, body)
        if opts.warmup > 0:
            load.wrk(self.rig, target, body, 16, opts.warmup, mcp)
        for conc in opts.concs:
            for attempt in range(opts.retries + 1):
                time.sleep(opts.pause)
                quiet = proc.wait_quiet(opts.quiet_cores, opts.quiet_wait)
                record: dict[str, Any] = {
                    "pass": number, "target": target.name, "mode": mode, "conc": conc, "attempt": attempt,
                    "pre_quiet_cores": quiet[0],
                }  # fmt: skip
                record["wrk"] = load.accounted(
                    partial(load.wrk, self.rig, target, body, conc, opts.duration, mcp), pids, upstream
                )
                noisy = record["wrk"]["foreign_cores"] > opts.max_foreign
                if mode == "stream" and opts.ttft:
                    record["sse"] = load.accounted(
                        partial(
                            load.sse, self.rig, target, bodies["stream_paced"], conc, opts.ttft_duration, 1.0
                        ),
                        pids,
                        upstream,
                    )
                    noisy = noisy or record["sse"]["foreign_cores"] > opts.max_foreign
                record["noisy"] = noisy
                self.doc["records"].append(record)
                _say(_progress(record))
                if not noisy:
                    break


def _progress(record: dict[str, Any]) -> str:
    w = record["wrk"]
    line = (
        f"[pass {record['pass']}] {record['target']:16s} {record['mode']:9s} c={record['conc']:<3d} "
        f"rps={w['rps']:9.1f} p50={w['lat_p50_us'] / 1000:7.2f}ms p99={w['lat_p99_us'] / 1000:7.2f}ms "
        f"errs={w['errors']} cpu={w['target_cpu_s']:.2f}s up={w['upstream_cpu_s']:.2f}s "
        f"foreign={w['foreign_cores']:.2f}c"
    )
    if "sse" in record:
        s = record["sse"]
        line += f" | ttft p50={s['ttft_p50_ms']}ms streams/s={s['streams_per_s']} errs={s['errors']}"
    return line + (" NOISY" if record["noisy"] else "")


def _say(message: str) -> None:
    print(message, flush=True)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally blocks: targets and upstream stop
