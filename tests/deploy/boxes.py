"""Where the image test runs the gateway: in the built image (podman), or as a plain process.

Both run the image's entry point, ``skein serve`` with ``SKEIN_CONFIG`` naming a mounted config,
a signed bundle and its public key. ``probe.py`` runs beside the gateway (inside the container:
its python, its network namespace) as the client and as a provider that holds calls.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml

PROBE = Path(__file__).resolve().parent / "probe.py"
# crun (podman's default) fails on hybrid cgroup v1 hosts and raising rlimits is not allowed in
# some sandboxes: runc with explicit limits works (deploy/image/build.sh uses the same).
PODMAN = ["podman", "--runtime", "runc"]
LIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]
UID = 10001  # the Dockerfile's USER


@dataclass(frozen=True)
class Release:
    """A signed bundle, its public key and an API key: what a deployment mounts."""

    bundle: Path
    public_key: Path
    api_key: str
    api_key_sha256: str


def gateway_config(
    *, state_dir: str, etc: str, host: str, port: int, upstream: str, release: Release
) -> dict[str, Any]:
    """The production shape: a verified bundle file, API-key auth, one guard worker process."""
    return {
        "state_dir": state_dir,
        "server": {"host": host, "port": port},
        "bundle": {
            "source": "file",
            "path": f"{etc}/bundle.tar.gz",
            "verify": True,
            "trusted_keys": {"release": f"{etc}/keys/release.pub.pem"},
        },
        "auth": {
            "api_keys": [
                {
                    "name": "image-test",
                    "sha256": release.api_key_sha256,
                    "sub": "svc-image",
                    "roles": ["developer"],
                }
            ]
        },
        # llama3.2 goes to the holding provider; the model "echo" to the built-in echo provider.
        "providers": {"ollama": {"base_url": upstream}},
        "guard": {"executor": "process", "workers": 1},
    }


class Box(Protocol):
    """A running gateway and what the test can do next to it."""

    url: str

    def probe(self, *args: str) -> subprocess.CompletedProcess[str]: ...
    def probe_in_background(self, *args: str) -> subprocess.Popen[str]: ...
    def touch(self, name: str) -> None: ...
    def exists(self, name: str) -> bool: ...
    def terminate(self) -> None: ...
    def wait(self, timeout: float) -> int: ...
    def audit(self, *args: str) -> subprocess.CompletedProcess[str]: ...
    def logs(self) -> str: ...
    def close(self) -> None: ...


def gateway_env(**settings: str) -> dict[str, str]:
    """This environment without its SKEIN_* variables (they are settings), plus ``settings``."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith("SKEIN_")}, **settings}


def run(command: list[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


@dataclass
class ContainerBox:
    """The image under podman: read-only root, no network, non-root, state on a named volume."""

    image: str
    release: Release
    name: str = field(default_factory=lambda: f"skein-image-test-{uuid.uuid4().hex[:10]}")
    url: str = "http://127.0.0.1:8080"

    def start(self, work: Path) -> None:
        etc = work / "etc"
        (etc / "keys").mkdir(parents=True)
        shutil.copy(self.release.bundle, etc / "bundle.tar.gz")
        shutil.copy(self.release.public_key, etc / "keys" / "release.pub.pem")
        config = gateway_config(
            state_dir="/var/lib/skein",
            etc="/etc/skein",
            host="0.0.0.0",
            port=8080,
            upstream="http://127.0.0.1:9999/v1",
            release=self.release,
        )
        (etc / "skein.yaml").write_text(yaml.safe_dump(config))
        created = run([*PODMAN, "volume", "create", self.name])
        assert created.returncode == 0, created.stderr
        started = run(
            [
                *PODMAN, "run", "--detach", "--name", self.name, *LIMITS,
                "--network", "none",  # nothing can be downloaded at run time
                "--read-only", "--read-only-tmpfs=false", "--tmpfs", "/tmp:rw,mode=1777",
                "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
                "-v", f"{self.name}:/var/lib/skein",
                "-v", f"{etc / 'skein.yaml'}:/etc/skein/skein.yaml:ro",
                "-v", f"{etc / 'bundle.tar.gz'}:/etc/skein/bundle.tar.gz:ro",
                "-v", f"{etc / 'keys'}:/etc/skein/keys:ro",
                "-v", f"{PROBE}:/probe/probe.py:ro",
                "-e", "SKEIN_CONFIG=/etc/skein/skein.yaml",
                self.image,
            ]
        )  # fmt: skip
        assert started.returncode == 0, started.stderr
        upstream = ["python", "/probe/probe.py", "upstream", "9999", "/tmp/up"]
        held = run([*PODMAN, "exec", "--detach", self.name, *upstream])
        assert held.returncode == 0, held.stderr

    def probe(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run([*PODMAN, "exec", self.name, "python", "/probe/probe.py", *args])

    def probe_in_background(self, *args: str) -> subprocess.Popen[str]:
        command = [*PODMAN, "exec", self.name, "python", "/probe/probe.py", *args]
        return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def touch(self, name: str) -> None:
        touched = run([*PODMAN, "exec", self.name, "touch", f"/tmp/up/{name}"])
        assert touched.returncode == 0, touched.stderr

    def exists(self, name: str) -> bool:
        return run([*PODMAN, "exec", self.name, "test", "-e", f"/tmp/up/{name}"]).returncode == 0

    def terminate(self) -> None:
        killed = run([*PODMAN, "kill", "--signal", "TERM", self.name])
        assert killed.returncode == 0, killed.stderr

    def wait(self, timeout: float) -> int:
        waited = run([*PODMAN, "wait", self.name], timeout=timeout)
        assert waited.returncode == 0, waited.stderr
        return int(waited.stdout.strip())

    def audit(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``skein audit ...`` from the same image on the stopped gateway's state volume."""
        return run(
            [
                *PODMAN, "run", "--rm", *LIMITS, "--network", "none", "--read-only",
                "-v", f"{self.name}:/var/lib/skein", self.image,
                "audit", *args, "--db", "/var/lib/skein/audit.db",
            ]
        )  # fmt: skip

    def exec(self, *command: str) -> subprocess.CompletedProcess[str]:
        return run([*PODMAN, "exec", self.name, *command])

    def inspect(self, template: str) -> str:
        return run([*PODMAN, "inspect", "--format", template, self.name]).stdout.strip()

    def logs(self) -> str:
        result = run([*PODMAN, "logs", self.name])
        return result.stdout + result.stderr

    def close(self) -> None:
        run([*PODMAN, "rm", "--force", "--time", "0", self.name])
        run([*PODMAN, "volume", "rm", "--force", self.name])


@dataclass
class ProcessBox:
    """The same entry point as a plain process: ``skein serve`` with ``SKEIN_CONFIG``."""

    release: Release
    url: str = ""

    def start(self, work: Path, port: int, upstream_port: int) -> None:
        self.work = work
        etc = work / "etc"
        (etc / "keys").mkdir(parents=True)
        shutil.copy(self.release.bundle, etc / "bundle.tar.gz")
        shutil.copy(self.release.public_key, etc / "keys" / "release.pub.pem")
        config = gateway_config(
            state_dir=str(work / "state"),
            etc=str(etc),
            host="127.0.0.1",
            port=port,
            upstream=f"http://127.0.0.1:{upstream_port}/v1",
            release=self.release,
        )
        (etc / "skein.yaml").write_text(yaml.safe_dump(config))
        self.url = f"http://127.0.0.1:{port}"
        self.held = subprocess.Popen(
            [sys.executable, str(PROBE), "upstream", str(upstream_port), str(work / "up")]
        )
        self.log = (work / "server.log").open("w")
        skein = Path(sys.executable).parent / "skein"  # the console script: the image's ENTRYPOINT
        self.process = subprocess.Popen(
            [str(skein), "serve"],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=gateway_env(SKEIN_CONFIG=str(etc / "skein.yaml")),
            cwd=work,
        )

    def probe(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run([sys.executable, str(PROBE), *args])

    def probe_in_background(self, *args: str) -> subprocess.Popen[str]:
        command = [sys.executable, str(PROBE), *args]
        return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def touch(self, name: str) -> None:
        (self.work / "up" / name).touch()

    def exists(self, name: str) -> bool:
        return (self.work / "up" / name).exists()

    def terminate(self) -> None:
        self.process.send_signal(signal.SIGTERM)

    def wait(self, timeout: float) -> int:
        return self.process.wait(timeout)

    def audit(self, *args: str) -> subprocess.CompletedProcess[str]:
        skein = Path(sys.executable).parent / "skein"
        return run([str(skein), "audit", *args, "--db", str(self.work / "state" / "audit.db")])

    def logs(self) -> str:
        self.log.flush()
        return (self.work / "server.log").read_text()

    def close(self) -> None:
        for process in (self.process, self.held):
            if process.poll() is None:
                process.kill()
                process.wait(10)
        self.log.close()


def wait_for(check: Any, what: str, box: Box, timeout: float = 90) -> None:
    """Poll ``check()`` until true; fail with the gateway's log when it never gets there."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; gateway log:\n{box.logs()[-4000:]}")
