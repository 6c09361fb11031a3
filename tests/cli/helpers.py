"""Running ``skein`` as a real process, and reading what a person sees of its stderr."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.server import REPO


def skein_process(
    *argv: str, cwd: Path = REPO, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``skein ARGS...`` as its own process, with a clean SKEIN_* environment plus ``env``."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("SKEIN_")}
    return subprocess.run(
        [sys.executable, "-m", "gateway", *argv],
        cwd=cwd,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def human_lines(stderr: str) -> list[str]:
    """stderr without the JSON log lines: what a person reads."""
    return [line for line in stderr.splitlines() if line and not line.startswith("{")]
