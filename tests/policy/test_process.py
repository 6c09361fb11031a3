"""The engine in a real process: loaded only where needed, and fine under a memory cap.

* ``skein bundle verify`` (and every command that evaluates no policy) never imports the
  engine library: the old one aborted at start under an ordinary virtual-memory cap.
* ``skein serve`` runs and decides under ``ulimit -v 2097152`` (2 GiB of address space),
  started as a subprocess with that limit. Cost: ~5 s (server start-up and one bundle check).
"""

from __future__ import annotations

import resource
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from signing import build_bundle
from tests.support.issuer import TokenIssuer
from tests.support.server import REPO, serve

TWO_GIB = 2 * 1024**3


def _cap_address_space() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (TWO_GIB, TWO_GIB))


def test_commands_without_a_policy_never_load_the_engine(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle.tar.gz"
    bundle.write_bytes(build_bundle(REPO / "policies", REPO / "bundles", revision="r1"))
    script = (
        "import sys\n"
        "from gateway.cli.main import main\n"
        f"code = main(['bundle', 'inspect', {str(bundle)!r}])\n"
        "assert 'regorus' not in sys.modules, 'the engine was imported'\n"
        "sys.exit(code)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        preexec_fn=_cap_address_space,
    )
    assert done.returncode == 0, done.stderr


@pytest.fixture
def capped_server(tmp_path: Path, token_issuer_session: TokenIssuer) -> Iterator[str]:
    config = {
        "state_dir": str(tmp_path / "state"),
        "bundle": {
            "policies_dir": str(REPO / "policies"),
            "profiles_dir": str(REPO / "bundles"),
            "verify": False,
        },
        "auth": {"issuer": token_issuer_session.issuer, "audience": token_issuer_session.audience},
        "guard": {"executor": "thread", "workers": 1},
    }
    with serve(config, tmp_path, preexec_fn=_cap_address_space) as base:
        yield base


@pytest.mark.e2e
def test_the_gateway_serves_decisions_under_a_2_gib_address_space_cap(
    capped_server: str, token_issuer_session: TokenIssuer
) -> None:
    token = token_issuer_session.mint(sub="alice", roles=["finance"])
    response = httpx.get(
        capped_server + "/v1/models", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert response.status_code == 200, response.text
    assert "gpt-4o-mini" in {
        m["id"] for m in response.json()["data"]
    }  # a decision, made in the capped process
