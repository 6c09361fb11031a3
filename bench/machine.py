"""Describe the machine a run happened on (goes into the JSON and the markdown)."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = (
    "skein", "starlette", "uvicorn", "uvloop", "httptools", "httpx", "aiohttp", "orjson", "regopy",
    "pyjwt", "prometheus-client", "presidio-analyzer", "spacy",
)  # fmt: skip


def _first_line(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "missing"
    text = (done.stdout or done.stderr).strip()
    return text.splitlines()[0][:80] if text else "missing"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    found = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def describe(litellm_bin: Path | None = None) -> dict[str, Any]:
    tools = {"wrk": _first_line(["wrk", "--version"]), "nginx": _first_line(["nginx", "-v"])}
    if litellm_bin is not None and litellm_bin.exists():
        probe = "import importlib.metadata as m; print(m.version('litellm'))"
        tools["litellm"] = _first_line([str(litellm_bin.parent / "python"), "-c", probe])
    return {
        "kernel": platform.release(),
        "os": _first_line(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]),
        "cpu_model": cpu_model(),
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "packages": versions(),
        "tools": tools,
    }
