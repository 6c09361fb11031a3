"""The benchmark's report logic on a canned run (no load is generated in the test suite)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # bench/ is a tool beside the packages, not an installed package
    sys.path.insert(0, str(REPO))

from bench import __main__ as cli  # noqa: E402
from bench import payloads, report, sse_client  # noqa: E402


def _wrk(
    rps: float, p50_us: int, p99_us: int, target_cpu: float, upstream_cpu: float, **extra: Any
) -> dict[str, Any]:
    duration = 10.0
    return {
        "requests": int(rps * duration),
        "duration_us": int(duration * 1e6),
        "rps": rps,
        "lat_p50_us": p50_us,
        "lat_p99_us": p99_us,
        "errors": 0,
        "header_sum": extra.get("header_sum", 0.0),
        "header_count": extra.get("header_count", 0),
        "target_cpu_s": target_cpu,
        "upstream_cpu_s": upstream_cpu,
        "loadgen_cpu_s": 5.0,
        "foreign_cores": extra.get("foreign", 0.01),
    }


def _sse(ttft_ms: float, streams: float) -> dict[str, Any]:
    return {
        "ttft_p50_ms": ttft_ms,
        "ttft_p99_ms": ttft_ms * 2,
        "streams_per_s": streams,
        "errors": 0,
        "foreign_cores": 0.01,
    }


def canned_run() -> dict[str, Any]:
    records: list[dict[str, Any]] = []

    def add(number: int, target: str, mode: str, conc: int, wrk: dict[str, Any], sse: Any = None) -> None:
        record = {"pass": number, "target": target, "mode": mode, "conc": conc, "attempt": 0, "noisy": False}
        record["wrk"] = wrk
        if sse is not None:
            record["sse"] = sse
        records.append(record)

    for number in (1, 2):
        add(number, "direct", "nonstream", 1, _wrk(40000, 25, 60, 0.0, 5.0))
        add(number, "direct", "nonstream", 64, _wrk(50000, 1100, 2600, 0.0, 5.5))
        add(number, "direct", "stream", 64, _wrk(5500, 11000, 40000, 0.0, 6.0), _sse(1.5, 600))
        overhead = {"header_sum": 3000.0 * 10 * 0.4, "header_count": 3000 * 10}
        add(number, "skein", "nonstream", 1, _wrk(1500, 625, 900, 5.0, 0.5, **overhead))
        add(number, "skein", "nonstream", 64, _wrk(2500, 25000, 40000, 9.9, 1.0))
        add(number, "skein", "stream", 64, _wrk(900, 70000, 90000, 9.9, 1.0), _sse(2.1, 550))
    # a noisy retry that must lose against the quiet attempt of the same point
    noisy = _wrk(10, 99000, 99000, 1.0, 1.0, foreign=0.9)
    retry = {"pass": 1, "target": "skein", "mode": "nonstream", "conc": 64, "attempt": 1, "noisy": True}
    records.append({**retry, "wrk": noisy})
    return {
        "schema": 1,
        "meta": {
            "started": "2026-11-24T10:00:00Z",
            "options": {"targets": ["direct", "skein", "skein-guard"], "passes": 2, "duration": 10},
            "rig": {"rig_cpus": "0", "proxy_cpus": "1"},
            "machine": {"cpu_model": "Test CPU", "nproc": 2, "kernel": "6.0", "packages": {"skein": "0.1.0"}},
        },
        "targets": {
            "direct": {"note": "wrk -> fake upstream", "ready_s": 0.0},
            "skein": {
                "note": "role bench",
                "ready_s": 1.2,
                "smoke": {"guard": "upstream saw the prompt verbatim"},
            },
            "skein-guard": {"skipped": "guard pseudonymize is not wired in yet"},
        },
        "records": records,
    }


def test_ratios_are_taken_against_direct_in_the_same_pass() -> None:
    points = {(p.target, p.mode, p.conc): p for p in report.summarise(canned_run())}
    skein = points[("skein", "nonstream", 64)]
    assert skein.passes == 2
    assert skein.get("rps") == 2500  # the noisy retry (10 req/s) was dropped
    assert skein.get("rps_x") == 2500 / 50000
    assert skein.get("cpu_ms") == 1000 * 9.9 / 25000
    assert points[("skein", "nonstream", 1)].get("p50_ms_added") == 0.6
    assert points[("skein", "nonstream", 1)].get("overhead_ms") == 0.4
    assert points[("direct", "nonstream", 1)].get("cpu_ms") == 1000 * 5.0 / 400000  # the upstream's CPU


def test_verdicts_follow_the_issue_targets() -> None:
    verdicts = {v.goal: v.status for v in report.verdicts(report.summarise(canned_run()))}
    assert list(verdicts.values()) == ["PASS", "PASS", "MISS", "PASS"]


def test_markdown_has_the_tables_ratios_and_skip_notes() -> None:
    markdown = report.render(json.loads(json.dumps(canned_run())))
    assert "| skein | 64 | 2,500 (0.05x) |" in markdown
    assert "+0.60" in markdown
    assert "TTFT P50 ms" in markdown
    assert "skein-guard**: skipped: guard pseudonymize is not wired in yet" in markdown
    assert "Reference anchors" in markdown  # LiteLLM was not measured: quote the anchor figures
    assert "| ≥ 1,000 streams/s at c=64 | 900 | MISS |" in markdown


def test_report_command_renders_a_saved_run(tmp_path: Path, capsys: Any) -> None:
    saved = tmp_path / "run.json"
    saved.write_text(json.dumps(canned_run()))
    assert cli.main(["report", str(saved)]) == 0
    assert "## Non-streaming (wrk)" in capsys.readouterr().out


def test_prompt_and_percentiles() -> None:
    assert payloads.word_count() == 200
    assert payloads.GUARD_PROBE in payloads.USER
    assert b"bench-pace-5ms" in payloads.encode(payloads.chat_body(stream=True, pace_ms=5))
    assert sse_client.percentile([3.0, 1.0, 2.0, 4.0], 50) == 2.0
    assert sse_client.percentile([], 99) is None
