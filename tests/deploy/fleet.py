"""N ``skein serve`` replicas behind an nginx load balancer, all on loopback, for the scale-out test.

The replicas are real processes (started together, waited for together: start-up loads the
guard's model in each) sharing one Postgres schema (audit, one hash chain per replica) and one
Redis prefix (budgets, rate limits, idempotency). nginx round-robins over them and never retries
a request on another replica (``proxy_next_upstream off``), so every request reaches exactly one
gateway and the audit log can be counted exactly.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.deploy.boxes import gateway_env
from tests.support.server import REPO, free_port

START_TIMEOUT = 180  # seconds: several replicas load spaCy at once on a busy 2-core machine


@dataclass(frozen=True)
class Replica:
    name: str
    url: str
    pid: int


def nginx_binary() -> str:
    """nginx from Debian (``deploy/image/install-tools.sh``): fail under CI, skip elsewhere."""
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)
    if found:
        return found
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail("nginx is not installed (CI=true: run deploy/image/install-tools.sh)")
    pytest.skip("nginx is not installed (apt-get install nginx-light)")


@contextmanager
def replicas(configs: list[dict[str, Any]], tmp: Path) -> Iterator[list[Replica]]:
    """Start one ``skein serve`` per config (each gets a port), yield them once all are ready."""
    with ExitStack() as stack:
        started = []
        for index, config in enumerate(configs):
            home = tmp / f"replica-{index + 1}"
            home.mkdir()
            port = free_port()
            full = {**config, "server": {"host": "127.0.0.1", "port": port}}
            (home / "skein.yaml").write_text(yaml.safe_dump(_plain(full)))
            log = stack.enter_context((home / "server.log").open("wb"))
            process = subprocess.Popen(
                [sys.executable, "-m", "gateway", "--config", str(home / "skein.yaml"), "serve"],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=gateway_env(),
                cwd=REPO,
            )
            stack.callback(_stop, process)
            replica = Replica(config["audit"]["instance_id"], f"http://127.0.0.1:{port}", process.pid)
            started.append((replica, process, home / "server.log"))
        for replica, process, log_path in started:
            _wait_ready(replica.url, process, log_path)
        yield [replica for replica, _, _ in started]


@contextmanager
def load_balancer(backends: list[str], tmp: Path) -> Iterator[tuple[str, int]]:
    """nginx round-robin over ``backends``; yields (its URL, its master pid)."""
    prefix = tmp / "nginx"
    prefix.mkdir(parents=True)
    port = free_port()
    servers = "\n".join(f"    server {url.removeprefix('http://')} max_fails=0;" for url in backends)
    (prefix / "nginx.conf").write_text(
        NGINX_CONF.replace("@PREFIX@", str(prefix)).replace("@PORT@", str(port)).replace("@SERVERS@", servers)
    )
    process = subprocess.Popen(
        [nginx_binary(), "-p", str(prefix), "-c", str(prefix / "nginx.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while not _accepts(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"nginx did not start:\n{(prefix / 'error.log').read_text()}")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}", process.pid
    finally:
        process.terminate()
        process.wait(15)


NGINX_CONF = """\
daemon off;
master_process on;
worker_processes 1;
pid @PREFIX@/nginx.pid;
error_log @PREFIX@/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path @PREFIX@/body;
  proxy_temp_path @PREFIX@/proxy;
  fastcgi_temp_path @PREFIX@/fastcgi;
  uwsgi_temp_path @PREFIX@/uwsgi;
  scgi_temp_path @PREFIX@/scgi;
  upstream skein {
@SERVERS@
    keepalive 64;
    # Below uvicorn's 5 s keep-alive: otherwise nginx may reuse a connection the gateway is
    # closing and answer 502 (docs/deploy.md, load balancers).
    keepalive_timeout 4s;
  }
  server {
    listen 127.0.0.1:@PORT@;
    location / {
      proxy_pass http://skein;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_next_upstream off;      # one request, one replica: the audit count stays exact
      proxy_buffering off;          # streams pass through as they arrive
      proxy_read_timeout 60s;
    }
  }
}
"""


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), 0.5):
            return True
    except OSError:
        return False


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"replica at {url} exited with {process.returncode}:\n{log.read_text()[-4000:]}"
            )
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"replica at {url} did not become ready:\n{log.read_text()[-4000:]}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()  # SIGTERM: drains, then writes out the audit queue
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return str(value) if isinstance(value, Path) else value
