"""Start ``skein serve`` as a real subprocess for end-to-end tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import yaml

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def skein(
    *args: str, config: Path | None = None, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a ``skein`` CLI command to completion."""
    prefix = ["--config", str(config)] if config else []
    return subprocess.run(
        [sys.executable, "-m", "gateway", *prefix, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        cwd=REPO,
    )


@contextmanager
def serve(
    config: dict[str, Any],
    tmp: Path,
    env: Mapping[str, str] | None = None,
    preexec_fn: Callable[[], None] | None = None,
) -> Iterator[str]:
    """Write ``config``, start the server, wait for /readyz, yield its base URL; stop it after.

    ``preexec_fn`` runs in the child before ``skein serve`` (resource limits, say)."""
    port = free_port()
    config = {**config, "server": {**config.get("server", {}), "port": port}}
    path = tmp / "skein.yaml"
    path.write_text(yaml.safe_dump(_plain(config)))
    log = (tmp / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway", "--config", str(path), "serve"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
        cwd=REPO,
        preexec_fn=preexec_fn,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, process, tmp / "server.log")
        yield base
    finally:
        stop_process(process)
        log.close()


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if it is still there after 15 s."""
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()


def _wait_ready(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120  # generous: a loaded 2-core CI box loads spaCy slowly
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"skein serve exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"skein serve did not become ready:\n{log.read_text()}")


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value
