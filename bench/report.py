"""Turn a run's JSON document into figures, ratios to direct, target verdicts and markdown.

Per (pass, target, mode, concurrency) the attempt with the least foreign CPU is kept.
Ratios are taken within a pass (a target against `direct` measured in the same pass), and
every figure shown is the median over passes. CPU per request is the proxy's own CPU;
for `direct`, which has no proxy, it is the fake upstream's, so "CPU x direct" reads as
"this proxy costs N fake upstreams' worth of CPU per request".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from statistics import median
from typing import Any

REFERENCE = """\
Reference figures from the anchor harness (`../shared/bench-anchors/README.md`, same machine kind,
proxy on one core, quiet passes; **not measured in this run**):

| proxy | req/s c=1 | req/s c=64 | streams/s | TTFT (8 paced streams) |
|---|---:|---:|---:|---:|
| direct | 55,000 | 77,000 | - | 0.09 ms |
| nginx 1 worker | 8,700 | 70,000 | - | 0.21 ms |
| Starlette + httpx + uvloop | 1,200 | 660 | - | - |
| Starlette + aiohttp + uvloop | 4,100 | 8,000 | - | 1.32 ms |
| LiteLLM 1.106, 1 worker | 138 | 133 | 60 | 29.3 ms |

LiteLLM's P50 there: 6.9 ms unloaded, 420 ms at 64 connections.
"""


@dataclass
class Point:
    """Median figures for one (target, mode, concurrency) over the passes it ran in."""

    target: str
    mode: str
    conc: int
    passes: int
    values: dict[str, float | None] = field(default_factory=dict)
    noisy: bool = False

    def get(self, key: str) -> float | None:
        return self.values.get(key)


def best_attempts(records: Iterable[dict[str, Any]]) -> dict[tuple[str, str, int, int], dict[str, Any]]:
    """(target, mode, conc, pass) -> the attempt with the least foreign CPU."""
    best: dict[tuple[str, str, int, int], dict[str, Any]] = {}
    for record in records:
        key = (record["target"], record["mode"], record["conc"], record["pass"])
        if key not in best or _foreign(record) < _foreign(best[key]):
            best[key] = record
    return best


def _foreign(record: dict[str, Any]) -> float:
    sse = record.get("sse") or {}
    return float(record["wrk"]["foreign_cores"]) + float(sse.get("foreign_cores", 0.0))


def figures(record: dict[str, Any]) -> dict[str, float | None]:
    """The raw figures of one measured point."""
    wrk = record["wrk"]
    requests = max(1, int(wrk["requests"]))
    server_cpu = wrk["upstream_cpu_s"] if record["target"] == "direct" else wrk["target_cpu_s"]
    values: dict[str, float | None] = {
        "rps": float(wrk["rps"]),
        "p50_ms": wrk["lat_p50_us"] / 1000,
        "p99_ms": wrk["lat_p99_us"] / 1000,
        "cpu_ms": 1000 * server_cpu / requests,
        "overhead_ms": wrk["header_sum"] / wrk["header_count"] if wrk.get("header_count") else None,
        "foreign_cores": float(wrk["foreign_cores"]),
        "errors": float(wrk["errors"]),
    }
    sse = record.get("sse")
    if sse:
        values.update(
            {
                "ttft_p50_ms": sse["ttft_p50_ms"],
                "ttft_p99_ms": sse["ttft_p99_ms"],
                "paced_sps": float(sse["streams_per_s"]),
                "errors": float(wrk["errors"] + sse["errors"]),
                "foreign_cores": max(float(wrk["foreign_cores"]), float(sse["foreign_cores"])),
            }
        )
    return values


RATIOS: dict[str, Callable[[float, float], float]] = {
    "rps": lambda v, d: v / d,
    "p50_ms": lambda v, d: v / d,
    "p99_ms": lambda v, d: v / d,
    "cpu_ms": lambda v, d: v / d,
    "ttft_p50_ms": lambda v, d: v / d,
}
ADDED = ("p50_ms", "p99_ms", "ttft_p50_ms")


def with_ratios(
    values: dict[str, float | None], direct: dict[str, float | None] | None
) -> dict[str, float | None]:
    out = dict(values)
    for key, ratio in RATIOS.items():
        v, d = values.get(key), (direct or {}).get(key)
        out[f"{key}_x"] = ratio(v, d) if v is not None and d else None
    for key in ADDED:
        v, d = values.get(key), (direct or {}).get(key)
        out[f"{key}_added"] = v - d if v is not None and d is not None else None
    return out


def summarise(doc: dict[str, Any]) -> list[Point]:
    best = best_attempts(doc.get("records", []))
    per_pass: dict[tuple[str, str, int], list[tuple[dict[str, float | None], bool]]] = {}
    for (target, mode, conc, number), record in best.items():
        direct = best.get(("direct", mode, conc, number))
        values = with_ratios(figures(record), figures(direct) if direct else None)
        per_pass.setdefault((target, mode, conc), []).append((values, bool(record.get("noisy"))))
    order = _target_order(doc)
    points = []
    for (target, mode, conc), runs in sorted(
        per_pass.items(), key=lambda kv: (kv[0][1] != "nonstream", order.get(kv[0][0], 99), kv[0][2])
    ):
        keys = {key for values, _ in runs for key in values}
        merged = {key: _median([values.get(key) for values, _ in runs]) for key in sorted(keys)}
        points.append(Point(target, mode, conc, len(runs), merged, any(noisy for _, noisy in runs)))
    return points


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return median(present) if present else None


def _target_order(doc: dict[str, Any]) -> dict[str, int]:
    names = list(doc.get("meta", {}).get("options", {}).get("targets", []))
    return {name: i for i, name in enumerate(names)}


# --- targets from issue 3 ----------------------------------------------------------------------
@dataclass(frozen=True)
class Verdict:
    goal: str
    measured: str
    status: str  # PASS, MISS or n/a


def verdicts(points: list[Point], target: str = "skein") -> list[Verdict]:
    def find(mode: str, conc: int) -> Point | None:
        return next((p for p in points if (p.target, p.mode, p.conc) == (target, mode, conc)), None)

    def check(goal: str, point: Point | None, key: str, ok: Callable[[float], bool], fmt: str) -> Verdict:
        value = point.get(key) if point else None
        if value is None:
            return Verdict(goal, "not measured", "n/a")
        return Verdict(goal, fmt.format(value), "PASS" if ok(value) else "MISS")

    return [
        check(
            "≥ 2,000 req/s at c=64 (non-streaming)",
            find("nonstream", 64),
            "rps",
            lambda v: v >= 2000,
            "{:,.0f}",
        ),
        check(
            "added P50 ≤ 1 ms at c=1", find("nonstream", 1), "p50_ms_added", lambda v: v <= 1.0, "{:+.2f} ms"
        ),
        check("≥ 1,000 streams/s at c=64", find("stream", 64), "rps", lambda v: v >= 1000, "{:,.0f}"),
        check(
            "TTFT within 1 ms of direct at c=64",
            find("stream", 64),
            "ttft_p50_ms_added",
            lambda v: v <= 1.0,
            "{:+.2f} ms",
        ),
    ]


# --- markdown ----------------------------------------------------------------------------------
def _num(value: float | None, fmt: str) -> str:
    return "-" if value is None else fmt.format(value)


def _with_x(point: Point, key: str, fmt: str) -> str:
    value = point.get(key)
    if value is None:
        return "-"
    if point.target == "direct":
        return fmt.format(value)
    ratio = point.get(f"{key}_x")
    return fmt.format(value) + ("" if ratio is None else f" ({_ratio(ratio)})")


def _ratio(value: float) -> str:
    return f"{value:.2f}x" if value < 10 else f"{value:.0f}x"


def _foreign_cell(point: Point) -> str:
    return _num(point.get("foreign_cores"), "{:.2f}") + (" !" if point.noisy else "")


NONSTREAM_HEAD = (
    "| target | c | req/s (x direct) | P50 ms (x direct) | +P50 ms | P99 ms (x direct) "
    "| CPU ms/req (x direct) | overhead hdr ms | foreign cores | errors |\n"
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
)
STREAM_HEAD = (
    "| target | c | streams/s (x direct) | P50 ms | P99 ms | TTFT P50 ms (x direct) | +TTFT ms "
    "| TTFT P99 ms | paced streams/s | CPU ms/stream (x direct) | foreign cores | errors |\n"
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def _nonstream_row(p: Point) -> str:
    return (
        f"| {p.target} | {p.conc} | {_with_x(p, 'rps', '{:,.0f}')} | {_with_x(p, 'p50_ms', '{:.2f}')} "
        f"| {_num(p.get('p50_ms_added'), '{:+.2f}') if p.target != 'direct' else '-'} "
        f"| {_with_x(p, 'p99_ms', '{:.2f}')} | {_with_x(p, 'cpu_ms', '{:.3f}')} "
        f"| {_num(p.get('overhead_ms'), '{:.3f}')} | {_foreign_cell(p)} | {_num(p.get('errors'), '{:.0f}')} |"
    )


def _stream_row(p: Point) -> str:
    return (
        f"| {p.target} | {p.conc} | {_with_x(p, 'rps', '{:,.0f}')} | {_num(p.get('p50_ms'), '{:.2f}')} "
        f"| {_num(p.get('p99_ms'), '{:.2f}')} | {_with_x(p, 'ttft_p50_ms', '{:.2f}')} "
        f"| {_num(p.get('ttft_p50_ms_added'), '{:+.2f}') if p.target != 'direct' else '-'} "
        f"| {_num(p.get('ttft_p99_ms'), '{:.2f}')} | {_num(p.get('paced_sps'), '{:,.0f}')} "
        f"| {_with_x(p, 'cpu_ms', '{:.3f}')} | {_foreign_cell(p)} | {_num(p.get('errors'), '{:.0f}')} |"
    )


def _machine_lines(meta: dict[str, Any]) -> list[str]:
    m = meta.get("machine", {})
    packages = ", ".join(f"{k} {v}" for k, v in m.get("packages", {}).items())
    tools = ", ".join(f"{k}: {v}" for k, v in m.get("tools", {}).items())
    return [
        f"- machine: {m.get('cpu_model', '?')}, {m.get('nproc', '?')} CPUs, kernel {m.get('kernel', '?')}, "
        f"{m.get('os', '?')}, Python {m.get('python', '?')}",
        f"- packages: {packages or '?'}",
        f"- tools: {tools or '?'}",
    ]


def render(doc: dict[str, Any]) -> str:
    meta = doc.get("meta", {})
    opts = meta.get("options", {})
    rig = meta.get("rig", {})
    points = summarise(doc)
    quick = " (QUICK: development figures)" if opts.get("quick") else ""
    method = (
        f"- method: proxy pinned to CPU {rig.get('proxy_cpus', '?')}, wrk -t1 and the fake upstream on "
        f"CPU {rig.get('rig_cpus', '?')}; {opts.get('passes', '?')} interleaved pass(es) x "
        f"{opts.get('duration', '?')} s per point; figures are medians over passes, ratios are to "
        f"`direct` in the same pass; TTFT from {opts.get('ttft_duration', '?')} s of the SSE client on an "
        f"upstream paced at {opts.get('pace_ms', '?')} ms per event; body: a "
        f"{meta.get('prompt_words', '?')}-word prompt"
    )
    lines = [
        f"# Skein benchmark, {meta.get('started', '?')}{quick}",
        "",
        *_machine_lines(meta),
        method,
        "",
        "## Targets (issue 3), Skein with the full pipeline, guard off",
        "",
        "| goal | measured | verdict |",
        "|---|---:|---|",
        *(f"| {v.goal} | {v.measured} | {v.status} |" for v in verdicts(points)),
    ]
    for mode, head, row, title in (
        ("nonstream", NONSTREAM_HEAD, _nonstream_row, "Non-streaming (wrk)"),
        ("stream", STREAM_HEAD, _stream_row, "Streaming (wrk: whole streams; SSE client: TTFT, paced)"),
        ("mcp", NONSTREAM_HEAD, _nonstream_row, "MCP tools/call in a session (wrk; Skein: /mcp/{server})"),
    ):
        rows = [row(p) for p in points if p.mode == mode]
        if rows:
            lines += ["", f"## {title}", "", head, *rows]
    lines += [
        "",
        "`!` = noisy: foreign CPU stayed above the limit after retries; treat that row as a lower bound.",
        "CPU ms/req for `direct` is the fake upstream's own CPU; for proxies it is the proxy's.",
    ]
    lines += _target_notes(doc)
    lines += _per_pass(doc)
    if "litellm" not in {p.target for p in points}:
        lines += ["", "## Reference anchors", "", REFERENCE.rstrip()]
    return "\n".join(lines) + "\n"


def _target_notes(doc: dict[str, Any]) -> list[str]:
    out = ["", "## Targets run", ""]
    for name, entry in doc.get("targets", {}).items():
        if "skipped" in entry:
            out.append(f"- **{name}**: skipped: {entry['skipped']}")
            continue
        smoke = entry.get("smoke", {})
        guard = f"; {smoke['guard']}" if "guard" in smoke else ""
        out.append(f"- **{name}**: {entry.get('note', '')}; ready in {entry.get('ready_s', '?')} s{guard}")
    return out


def _per_pass(doc: dict[str, Any]) -> list[str]:
    """Every kept attempt, pass by pass: the spread tells how far to trust the medians."""
    best = best_attempts(doc.get("records", []))
    if not best:
        return []
    noisy = sum(1 for record in best.values() if record.get("noisy"))
    out = [
        "",
        "## Per pass",
        "",
        f"{noisy} of {len(best)} measured points stayed noisy after retries.",
        "",
        "| target | mode | c | req/s by pass | CPU ms/req by pass | foreign cores by pass | cpu0 cpu1 busy |",
        "|---|---|---:|---|---|---|---|",
    ]
    grouped: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
    for (target, mode, conc, _), record in sorted(best.items(), key=lambda kv: kv[0][3]):
        grouped.setdefault((target, mode, conc), []).append(record)
    order = _target_order(doc)
    for (target, mode, conc), records in sorted(
        grouped.items(), key=lambda kv: (kv[0][1] != "nonstream", order.get(kv[0][0], 99), kv[0][2])
    ):
        values = [figures(r) for r in records]
        busy = [r["wrk"].get("cpu_busy", {}) for r in records]
        out.append(
            f"| {target} | {mode} | {conc} "
            f"| {' / '.join(_num(v.get('rps'), '{:,.0f}') for v in values)} "
            f"| {' / '.join(_num(v.get('cpu_ms'), '{:.3f}') for v in values)} "
            f"| {' / '.join(_num(v.get('foreign_cores'), '{:.2f}') for v in values)} "
            f"| {' / '.join(_busy(b) for b in busy)} |"
        )
    return out


def _busy(share: dict[str, float]) -> str:
    return f"{share.get('cpu0', 0):.0%} {share.get('cpu1', 0):.0%}" if share else "-"
