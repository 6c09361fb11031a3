"""`python -m bench run ...` measures and reports; `python -m bench report FILE.json` re-renders."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

from bench import driver, report, targets
from bench.targets import Rig

REPO = Path(__file__).resolve().parent.parent


def _csv(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description="Skein load benchmark")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="measure, then write results/<stamp>.{json,md}")
    run.add_argument(
        "--targets", type=_csv, default=targets.DEFAULT_TARGETS, help=",".join(targets.ALL_TARGETS)
    )
    run.add_argument("--modes", type=_csv, default=("nonstream", "stream", "mcp"))
    run.add_argument("--conc", type=lambda s: tuple(int(c) for c in _csv(s)), default=(1, 16, 64))
    run.add_argument("--passes", type=int, default=2)
    run.add_argument("--duration", type=float, default=20.0, help="seconds of wrk per point")
    run.add_argument("--warmup", type=float, default=3.0)
    run.add_argument(
        "--ttft-duration", type=float, default=10.0, help="seconds of SSE client per stream point"
    )
    run.add_argument("--no-ttft", action="store_true")
    run.add_argument("--pace-ms", type=int, default=5, help="upstream delay between events for TTFT")
    run.add_argument("--quiet-cores", type=float, default=0.15)
    run.add_argument("--quiet-wait", type=float, default=30.0)
    run.add_argument("--max-foreign", type=float, default=0.15)
    run.add_argument("--retries", type=int, default=1)
    run.add_argument("--quick", action="store_true", help="mark the results as development figures")
    run.add_argument("--results", type=Path, default=REPO / "bench" / "results")
    run.add_argument("--latest", action="store_true", help="also copy the results to results/latest.*")
    run.add_argument("--python", default=sys.executable)
    run.add_argument("--upstream-port", type=int, default=9000)
    run.add_argument("--rig-cpus", default="0")
    run.add_argument("--proxy-cpus", default="1")
    show = commands.add_parser("report", help="render the markdown of a results JSON")
    show.add_argument("file", type=Path)
    show.add_argument("--write", action="store_true", help="write FILE.md beside it instead of printing")
    return parser


def _run(args: argparse.Namespace) -> int:
    unknown = [t for t in args.targets if t not in targets.ALL_TARGETS]
    if unknown:
        print(f"unknown targets {unknown}; known: {', '.join(targets.ALL_TARGETS)}", file=sys.stderr)
        return 2
    options = driver.Options(
        targets=args.targets,
        modes=args.modes,
        concs=args.conc,
        passes=args.passes,
        duration=args.duration,
        warmup=args.warmup,
        ttft=not args.no_ttft,
        ttft_duration=args.ttft_duration,
        pace_ms=args.pace_ms,
        quiet_cores=args.quiet_cores,
        quiet_wait=args.quiet_wait,
        max_foreign=args.max_foreign,
        retries=args.retries,
        quick=args.quick,
    )
    stamp = time.strftime("%Y%m%d-%H%M%S")
    rig = Rig(
        repo=REPO,
        run_dir=REPO / "bench" / "run" / stamp,
        python=os.path.abspath(args.python),
        upstream_port=args.upstream_port,
        rig_cpus=args.rig_cpus,
        proxy_cpus=args.proxy_cpus,
    )
    out = args.results / f"{stamp}.json"
    doc = driver.Run(options, rig, out).execute()
    markdown = report.render(doc)
    out.with_suffix(".md").write_text(markdown)
    if args.latest:
        shutil.copyfile(out, args.results / "latest.json")
        shutil.copyfile(out.with_suffix(".md"), args.results / "latest.md")
    print("\n" + markdown)
    print(f"results: {out} {out.with_suffix('.md')}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "run":
        return _run(args)
    markdown = report.render(json.loads(args.file.read_text()))
    if args.write:
        args.file.with_suffix(".md").write_text(markdown)
    else:
        print(markdown, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
