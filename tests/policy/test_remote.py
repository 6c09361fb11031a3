"""The remote engine: against a real OPA (never a fake one), plus the network failures that
need no OPA at all (nothing listening, nobody answering).

The parity cases run whenever an OPA is at hand: ``OPA_URL`` names a running server (which
must have loaded the sample bundle: ``opa run --server policies/ <data dir>``, see
docs/policy-guide.md), or an ``opa`` binary on PATH is started here. Without either they
skip; the differential test (test_differential.py) compares with OPA's engine every run."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from gateway.bundle.source import BundleContent
from gateway.errors import Unavailable
from gateway.policy.embedded import EmbeddedEngine
from gateway.policy.remote import RemoteEngine
from tests.policy.conftest import chat

OPA = shutil.which("opa")
OPA_URL = os.environ.get("OPA_URL")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def closed_port_engine() -> AsyncIterator[RemoteEngine]:
    engine = RemoteEngine(f"http://127.0.0.1:{_free_port()}", timeout_seconds=0.5)
    yield engine
    await engine.aclose()


async def test_nothing_listening_is_unavailable(closed_port_engine: RemoteEngine) -> None:
    with pytest.raises(Unavailable) as info:
        await closed_port_engine.decide(chat(["finance"], "echo"))
    assert info.value.reason == "policy_engine_error"


async def test_silent_server_times_out() -> None:
    # A socket that accepts connections but never answers: the timeout must fire.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        engine = RemoteEngine(f"http://127.0.0.1:{sock.getsockname()[1]}", timeout_seconds=0.2)
        started = time.perf_counter()
        with pytest.raises(Unavailable):
            await engine.decide(chat(["finance"], "echo"))
        await engine.aclose()
    assert time.perf_counter() - started < 2


@pytest.fixture(scope="module")
def opa_server(
    tmp_path_factory: pytest.TempPathFactory, sample: BundleContent, sample_data: dict[str, Any]
) -> Iterator[str]:
    if OPA_URL:
        yield OPA_URL.rstrip("/")
        return
    if OPA is None:
        pytest.skip("neither OPA_URL nor an `opa` binary on PATH: the remote engine needs a real OPA")
    root = tmp_path_factory.mktemp("opa-bundle")
    for name, source in sample.policies.items():
        (root / name).write_text(source)
    for key in ("profiles", "models"):
        (root / key).mkdir()
        (root / key / "data.json").write_text(json.dumps(sample_data[key]))
    port = _free_port()
    process = subprocess.Popen([OPA, "run", "--server", f"--addr=127.0.0.1:{port}", str(root)])
    try:
        _wait_for(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def _wait_for(port: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError("opa did not start")


@pytest.mark.parametrize(
    "policy_input",
    [
        chat(["finance"], "gpt-4o-mini"),
        chat(["finance"], "gpt-4o"),
        chat(["developer"], "gpt-4o", usage={"spend_today_usd": 45.0}),
        chat(["developer", "legal"], "gpt-4o"),
        {"principal": {"roles": ["legal"]}, "action": "models.list"},
        chat(["finance"], 'gpt-4o", "allow": true, "x": "'),
        chat(["developer"], "claude-3-5-sonnet", usage={"spend_today_usd": 45}, time="2026-11-28T10:00:00Z"),
        {
            "principal": {"roles": ["developer"]},
            "action": "tools.call",
            "resource": {"server": "github", "tool": "merge_pr"},
        },
    ],
)
async def test_remote_and_embedded_agree(
    opa_server: str, engine: EmbeddedEngine, policy_input: dict[str, Any]
) -> None:
    remote = RemoteEngine(opa_server, timeout_seconds=2)
    try:
        assert await remote.decide(policy_input) == await engine.decide(policy_input)
    finally:
        await remote.aclose()


async def test_undefined_decision_from_opa(opa_server: str) -> None:
    remote = RemoteEngine(opa_server, timeout_seconds=2)
    remote.url = opa_server + "/v1/data/gateway/no_such_rule"
    try:
        with pytest.raises(Unavailable) as info:
            await remote.decide(chat(["finance"], "echo"))
        assert info.value.reason == "policy_undefined"
    finally:
        await remote.aclose()


def test_settings_path_is_the_entry_document() -> None:
    assert RemoteEngine("http://opa:8181/").url == "http://opa:8181/v1/data/gateway/decision"
