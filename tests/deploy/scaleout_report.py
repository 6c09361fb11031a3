"""Write bench/results/scaleout.md from the figures ``make scaleout-report`` measured.

``SCALEOUT_REPORT=bench/results pytest tests/deploy/test_scaleout.py`` leaves
``scaleout-2.json`` and ``scaleout-3.json`` there; this turns them into the table.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parents[2] / "bench" / "results"


def table(runs: list[dict[str, Any]]) -> str:
    lines = [
        "| replicas | guard | calls | wall s | calls/s | replica | served | CPU s | CPU ms/call"
        " | calls/CPU s |",
        "|---:|---|---:|---:|---:|---|---:|---:|---:|---:|",
    ]
    for run in runs:
        for name, served in run["served"].items():
            cpu, wall = run["cpu_s"][name], run["wall_s"]
            lines.append(
                f"| {run['replicas']} | {run['guard']} | {run['calls']} | {wall:.1f}"
                f" | {run['calls'] / wall:.1f}"
                f" | {name} | {served} | {cpu:.2f} | {1000 * cpu / served:.1f} | {served / cpu:.0f} |"
            )
        lines.append(
            f"| {run['replicas']} | | | | | nginx | {run['calls']} | {run['cpu_s']['nginx']:.2f}"
            f" | {1000 * run['cpu_s']['nginx'] / run['calls']:.2f} | |"
        )
    return "\n".join(lines)


def main() -> int:
    runs = [json.loads(p.read_text()) for p in sorted(RESULTS.glob("scaleout-*-*.json"))]
    if not runs:
        print("no scaleout-*.json in bench/results: run `make scaleout-report`", file=sys.stderr)
        return 1
    body = (RESULTS / "scaleout.md").read_text() if (RESULTS / "scaleout.md").exists() else ""
    start, end = "<!-- table -->", "<!-- /table -->"
    if start in body and end in body:
        head, rest = body.split(start, 1)
        body = f"{head}{start}\n{table(runs)}\n{end}{rest.split(end, 1)[1]}"
    else:
        body = f"# Scale-out\n\n{start}\n{table(runs)}\n{end}\n"
    (RESULTS / "scaleout.md").write_text(body)
    print(table(runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
