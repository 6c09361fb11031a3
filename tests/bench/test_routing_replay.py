"""The routing replay (bench/routing_replay.py) on a small workload: it runs, and its figures
hold (summaries downshifted, spend at the budget)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # bench/ is a tool beside the packages, not an installed package
    sys.path.insert(0, str(REPO))

from bench import routing_replay  # noqa: E402


def test_the_workload_is_seeded_and_mixed() -> None:
    jobs = routing_replay.workload(400, 18)
    assert jobs == routing_replay.workload(400, 18)
    tasks = {job.task for job in jobs}
    assert {"summarize", "classify", "code", "plan", None} <= tasks
    assert any(job.stream for job in jobs) and any(job.flaky for job in jobs)


async def test_a_small_replay_meets_the_targets(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "replay.md"
    code = await routing_replay.main(["--calls", "300", "--latency-calls", "6", "--out", str(out)])
    assert code == 0
    report = out.read_text(encoding="utf-8")
    share = next(line for line in report.splitlines() if line.startswith("| summary calls"))
    assert float(share.split("= ")[1].split("%")[0]) >= 50.0, share
    billed = next(line for line in report.splitlines() if line.startswith("| spend billed"))
    percent = float(billed.split("= ")[1].split("%")[0])
    assert 90.0 <= percent <= 110.0, billed
