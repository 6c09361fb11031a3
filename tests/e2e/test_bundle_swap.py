"""End to end: a policy author edits a rule, builds and signs, and a running ``skein serve``
picks up the new revision on SIGHUP without a failed request; a tampered file is refused
while the last good bundle keeps serving."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.bundle.helpers import Workspace, flip, workspace
from tests.support.issuer import TokenIssuer
from tests.support.server import serve, skein
from tests.support.upstream import FakeProvider

pytestmark = pytest.mark.e2e


def build_and_sign(ws: Workspace, keys: Path) -> None:
    """What the author runs: ``skein bundle build && skein bundle sign``."""
    out = str(ws.bundle)
    built = skein("bundle", "build", "--policies", str(ws.policies), "--data", str(ws.data), "--out", out)
    assert built.returncode == 0, built.stderr
    signed = skein("bundle", "sign", out, "--key", str(keys / "dev.pem"), "--kid", "dev")
    assert signed.returncode == 0, signed.stderr


def server_pid(config: Path) -> int:
    """The ``skein serve`` child started with ``config`` (tests/support/server.py keeps the
    Popen to itself, so find it the way an operator would: by its command line)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if str(config).encode() in argv and b"serve" in argv:
                return int(entry.name)
    raise AssertionError(f"no skein serve process for {config}")


class Load:
    """Calls the gateway in a loop from a few threads; records every outcome."""

    def __init__(self, base: str, tokens: list[str]) -> None:
        # Several callers: the role's rate limit (per principal) must not be what refuses.
        self.base, self.tokens = base, tokens
        self.outcomes: list[int | str] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run) for _ in range(4)]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def _run(self) -> None:
        body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
        with httpx.Client(base_url=self.base, timeout=10) as client:
            while not self._stop.is_set():
                headers = {"authorization": f"Bearer {self.tokens[len(self.outcomes) % len(self.tokens)]}"}
                try:
                    response = client.post("/v1/chat/completions", json=body, headers=headers)
                    self.outcomes.append(response.status_code)
                except httpx.HTTPError as exc:
                    self.outcomes.append(type(exc).__name__)


def bundle_status(base: str) -> dict[str, Any]:
    status: dict[str, Any] = httpx.get(base + "/readyz", timeout=5).json()["bundle"]
    return status


def wait_until(check: Any, timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return dict(result)
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


@pytest.fixture
def author(tmp_path: Path) -> Iterator[tuple[Workspace, Path]]:
    ws = workspace(tmp_path / "author")
    ws.quiet_finance()
    keys = tmp_path / "keys"
    generated = skein("keys", "generate", "--alg", "ES256", "--out", str(keys / "dev"))
    assert generated.returncode == 0, generated.stderr
    build_and_sign(ws, keys)
    yield ws, keys


def test_edit_build_sign_sighup_swaps_without_a_failed_request(
    tmp_path: Path,
    author: tuple[Workspace, Path],
    token_issuer_session: TokenIssuer,
    fake_provider: FakeProvider,
) -> None:
    ws, keys = author
    config = {
        "state_dir": tmp_path / "state",
        "bundle": {
            "source": "file",
            "path": ws.bundle,
            "trusted_keys": {"dev": keys / "dev.pub.pem"},
            "poll_interval_seconds": 3600,  # so that SIGHUP, not the poller, does the swap
        },
        "auth": {"issuer": token_issuer_session.issuer, "audience": token_issuer_session.audience},
        "providers": {"openai": {"base_url": fake_provider.base_url}},
    }
    tokens = [token_issuer_session.mint(sub=f"alice-{n}", roles=["finance"]) for n in range(32)]
    with serve(config, tmp_path) as base:
        pid = server_pid(tmp_path / "skein.yaml")
        first = bundle_status(base)
        assert first["verified"] and first["signer"]["kid"] == "dev"

        with Load(base, tokens) as load:
            time.sleep(0.3)
            ws.freeze_model()  # the author edits a rule...
            build_and_sign(ws, keys)  # ...builds and signs
            os.kill(pid, signal.SIGHUP)
            second = wait_until(lambda: (s := bundle_status(base))["revision"] != first["revision"] and s)
            time.sleep(0.3)
        assert load.outcomes and set(load.outcomes) <= {200, 403}, set(load.outcomes)
        assert 200 in load.outcomes and 403 in load.outcomes  # before and after the swap

        with Load(base, tokens) as load:
            good = ws.bundle.read_bytes()
            tampered = tmp_path / "tampered.tar.gz"
            tampered.write_bytes(flip(good, len(good) // 2))
            tampered.replace(ws.bundle)
            os.kill(pid, signal.SIGHUP)
            refused = wait_until(lambda: (s := bundle_status(base))["reason"] and s)
            time.sleep(0.2)
        assert refused["revision"] == second["revision"] and refused["state"] == "active"
        assert load.outcomes and set(load.outcomes) == {403}  # still the last good policy
        metrics = httpx.get(base + "/metrics").text
        assert 'skein_bundle_load_total{result="rejected"} 1.0' in metrics
        assert f'revision="{second["revision"]}"' in metrics
