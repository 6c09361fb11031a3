"""The built image, run: a signed bundle mounted read-only, ready, a chat call, SIGTERM drains.

``make image-test`` builds the image (deploy/image/build.sh) and runs this module with
``DEPLOY_IMAGE_TEST=1 DEPLOY_IMAGE=<tag>``; ``make test`` skips it (a cold build takes minutes).
The same scenario runs twice: in the container (podman, read-only root, no network, non-root)
and as a plain process on the same entry point (``skein serve`` + ``SKEIN_CONFIG``), which is
what remains where a container cannot run (docs/deploy.md).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from signing import build_bundle, generate_key, load_private_key, sign_bundle
from tests.deploy.boxes import PODMAN, UID, Box, ContainerBox, ProcessBox, Release, run, wait_for
from tests.support.server import REPO, free_port

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        os.environ.get("DEPLOY_IMAGE_TEST") != "1", reason="make image-test runs this (DEPLOY_IMAGE_TEST=1)"
    ),
]


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Release:
    """What a release pipeline ships: the sample bundle signed with a release key, an API key.

    The signing library in process (what ``skein bundle build`` / ``sign`` call): the CLI
    would cost seconds of imports per command on a loaded machine.
    """
    out = tmp_path_factory.mktemp("release")
    private, public = generate_key("ES256")
    raw = build_bundle(REPO / "policies", REPO / "bundles")
    (out / "bundle.tar.gz").write_bytes(sign_bundle(raw, load_private_key(private), kid="release"))
    (out / "release.pub.pem").write_bytes(public)
    key = "sk-skein-" + secrets.token_urlsafe(32)
    digest = hashlib.sha256(key.encode()).hexdigest()
    return Release(out / "bundle.tar.gz", out / "release.pub.pem", key, digest)


@pytest.fixture
def container(release: Release, tmp_path: Path) -> Iterator[ContainerBox]:
    image = os.environ.get("DEPLOY_IMAGE")
    if not image:
        pytest.skip("DEPLOY_IMAGE is not set: no image was built (see make image-test's output)")
    if shutil.which("podman") is None:
        pytest.skip("podman is not installed")
    assert run([*PODMAN, "image", "exists", image]).returncode == 0, f"image {image} is missing"
    box = ContainerBox(image, release)
    try:
        box.start(tmp_path)
        yield box
    finally:
        box.close()


@pytest.fixture
def process(release: Release, tmp_path: Path) -> Iterator[ProcessBox]:
    box = ProcessBox(release)
    try:
        box.start(tmp_path, free_port(), free_port())
        yield box
    finally:
        box.close()


def answer(result: subprocess.CompletedProcess[str]) -> dict[str, object]:
    assert result.returncode == 0, result.stderr
    parsed: dict[str, object] = json.loads(result.stdout)
    return parsed


def exercise(box: Box, release: Release, exit_code: int) -> None:
    """Ready on the verified bundle, a chat call, then SIGTERM with a call in flight.

    ``exit_code``: uvicorn re-raises SIGTERM once it has shut down cleanly, so a plain process
    ends by the signal (-15); as a container's PID 1, which has no default signal action, the
    re-raised signal is ignored and skein exits 0.
    """
    wait_for(lambda: box.probe("ready", box.url).returncode == 0, "the gateway to listen", box)
    wait_for(lambda: answer(box.probe("ready", box.url))["status"] == 200, "/readyz 200", box)
    bundle = answer(box.probe("ready", box.url))["body"]["bundle"]  # type: ignore[index]
    assert bundle["verified"] is True and bundle["signer"]["kid"] == "release", bundle

    # The built-in echo provider answers with what a provider would have received: masked.
    echoed = answer(box.probe("chat", box.url, release.api_key, "echo", "Mail alice@acme.com today"))
    assert echoed["status"] == 200, echoed
    content = echoed["body"]["choices"][0]["message"]["content"]  # type: ignore[index]
    assert "<EMAIL_ADDRESS>" in content and "alice@acme.com" not in content, content
    refused = answer(box.probe("chat", box.url, "sk-skein-wrong", "echo", "hi"))
    assert refused["status"] == 401, refused

    # Drain: a call held by the provider when SIGTERM lands still gets its answer.
    client = box.probe_in_background("chat", box.url, release.api_key, "llama3.2", "hold on")
    wait_for(lambda: box.exists("received"), "the held call to reach the provider", box)
    box.terminate()
    wait_for(lambda: box.probe("ready", box.url).returncode != 0, "the listener to close on SIGTERM", box)
    assert client.poll() is None, "the held call ended before it was released"
    box.touch("release")
    out, err = client.communicate(timeout=60)
    held = json.loads(out or "{}")
    assert held.get("status") == 200, (out, err)
    assert held["body"]["choices"][0]["message"]["content"] == "released"
    assert box.wait(timeout=60) == exit_code, box.logs()[-4000:]
    assert "Application shutdown complete" in box.logs()

    # The audit queue was written out before exit: both calls, a valid chain.
    verified = box.audit("verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    exported = box.audit("export")
    records = [json.loads(line) for line in exported.stdout.splitlines() if line.strip()]
    served = {(r["served_model"], r["status"]) for r in records}
    assert {("echo", 200), ("llama3.2", 200)} <= served, records


def test_image_runs_read_only_non_root_offline(container: ContainerBox, release: Release) -> None:
    listening = lambda: container.probe("ready", container.url).returncode == 0  # noqa: E731
    wait_for(listening, "the gateway to listen", container)
    assert container.inspect("{{.HostConfig.ReadonlyRootfs}}") == "true"
    assert container.inspect("{{.HostConfig.NetworkMode}}") == "none"
    assert container.exec("id", "-u").stdout.strip() == str(UID)
    status = container.exec("cat", "/proc/1/status").stdout  # PID 1 is skein itself
    assert f"Uid:\t{UID}\t{UID}" in status, status
    assert "skein" in container.exec("cat", "/proc/1/cmdline").stdout
    written = container.exec("python", "-c", "open('/opt/skein/written', 'w')")
    assert written.returncode != 0 and "Read-only file system" in written.stderr, written.stderr
    # The image's HEALTHCHECK (/healthz), run on demand (no systemd timers here).
    health = run([*PODMAN, "healthcheck", "run", container.name])
    assert health.returncode == 0, health.stdout + health.stderr
    exercise(container, release, exit_code=0)


def test_entry_point_as_a_plain_process(process: ProcessBox, release: Release) -> None:
    exercise(process, release, exit_code=-signal.SIGTERM)
