"""Every configuration and start-up mistake: exit 2 (3 for an unreachable dependency) and one
line on stderr that names the key or file and says what to do; never a traceback.

Mistakes the preflight finds are checked in-process (they stop ``serve`` before it binds a
port or imports the app). Those only the app's lifespan can find run ``skein serve`` as a
real process, because uvicorn is what used to turn them into a traceback and exit 3.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import yaml

from gateway.cli.common import EXIT_UNAVAILABLE, EXIT_USAGE
from tests.cli.conftest import Run
from tests.cli.helpers import human_lines, skein_process
from tests.support.server import REPO
from tests.support.services import DEFAULT_POSTGRES_DSN

SIGNED = {"source": "file", "path": "dist/bundle.tar.gz"}


def write(tmp_path: Path, config: dict[str, object]) -> str:
    path = tmp_path / "skein.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def serve_fails(skein: Run, tmp_path: Path, config: dict[str, object], *fragments: str) -> str:
    # A state_dir that cannot be created: should a check ever stop catching its mistake, the
    # in-process server fails at once instead of serving (and hanging the test) forever.
    config = {"state_dir": "/proc/skein-test-never-starts", **config}
    code, out, err = skein("--config", write(tmp_path, config), "serve", "--port", "0")
    lines = err.splitlines()
    assert code == EXIT_USAGE, err
    assert len(lines) == 1 and lines[0].startswith("skein: "), err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert "Traceback" not in err and out == ""
    return lines[0]


def test_a_mistyped_key_names_it_and_suggests_the_right_one(skein: Run, tmp_path: Path) -> None:
    serve_fails(
        skein, tmp_path, {"server": {"prot": 9000}}, "server.prot: unknown key", "did you mean server.port?"
    )


def test_a_mistyped_variable_suggests_the_right_variable(skein: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SKEIN_SERVR__PORT", "9000")
    code, _, err = skein("serve")
    assert code == EXIT_USAGE
    assert err.splitlines() == [
        "skein: SKEIN_SERVR__PORT: servr: unknown key; did you mean SKEIN_SERVER__PORT?"
    ]


def test_a_litellm_config_points_at_the_importer(skein: Run, tmp_path: Path) -> None:
    config = {"model_list": [{"model_name": "gpt-4o", "litellm_params": {"model": "openai/gpt-4o"}}]}
    serve_fails(skein, tmp_path, config, "model_list", "skein config import-litellm")


def test_directory_source_without_dev_mode(skein: Run, tmp_path: Path) -> None:
    serve_fails(
        skein, tmp_path, {}, "bundle.source", "unsigned, but verification is on", "skein.example.yaml"
    )


def test_nothing_trusted(skein: Run, tmp_path: Path) -> None:
    serve_fails(skein, tmp_path, {"bundle": SIGNED}, "bundle.trusted_keys", "nothing is trusted")


def test_an_unreadable_trusted_key(skein: Run, tmp_path: Path) -> None:
    bundle = {**SIGNED, "trusted_keys": {"ci": str(tmp_path / "missing.pub.pem")}}
    serve_fails(skein, tmp_path, {"bundle": bundle}, "bundle.trusted_keys", "missing.pub.pem", "No such file")


def test_a_trusted_key_that_is_not_a_key(skein: Run, tmp_path: Path) -> None:
    (tmp_path / "junk.pem").write_text("not a key\n")
    bundle = {**SIGNED, "trusted_keys": {"ci": str(tmp_path / "junk.pem")}}
    serve_fails(skein, tmp_path, {"bundle": bundle}, "bundle.trusted_keys", "junk.pem", "public key PEM")


def test_no_policies_directory(skein: Run, tmp_path: Path) -> None:
    config = {"dev": {"enabled": True}, "bundle": {"policies_dir": str(tmp_path / "nope")}}
    serve_fails(skein, tmp_path, config, "bundle.policies_dir", "is not a directory")


def test_dev_signing_key_outside_dev_mode(skein: Run, tmp_path: Path) -> None:
    bundle = {**SIGNED, "trusted_keys": {"ci": str(tmp_path / "k.pub.pem")}, "dev_signing_key": "k.pem"}
    serve_fails(skein, tmp_path, {"bundle": bundle}, "bundle.dev_signing_key", "dev-mode setting")


def test_a_provider_key_variable_that_is_unset(skein: Run, tmp_path: Path) -> None:
    config = {
        "dev": {"enabled": True},
        "providers": {
            "openai": {"base_url": "https://api.openai.com/v1", "api_key_env": "SKEIN_NO_SUCH_KEY"}
        },
    }
    line = serve_fails(skein, tmp_path, config, "providers.openai.api_key_env", "SKEIN_NO_SUCH_KEY")
    assert "api_key_env: null" in line  # says how to declare a provider that needs no key


def test_a_port_in_use(skein: Run, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, _, err = skein(
            "--config", write(tmp_path, {"dev": {"enabled": True}}), "serve", "--port", str(port)
        )
    assert code == EXIT_USAGE
    assert err.splitlines() == [
        f"skein: server.host/server.port: cannot listen on 127.0.0.1:{port}: already in use; stop the "
        "other process or choose another port (--port, SKEIN_SERVER__PORT)"
    ]


def test_a_missing_config_file(skein: Run, tmp_path: Path) -> None:
    code, _, err = skein("--config", str(tmp_path / "nope.yaml"), "serve")
    assert code == EXIT_USAGE and err.count("\n") == 1 and "cannot read config file" in err


@pytest.mark.e2e
def test_a_broken_policy_in_dev_mode_stops_start_up_with_one_line(tmp_path: Path) -> None:
    """Found by the app's lifespan (compiling the policy), through uvicorn: still one line."""
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "broken.rego").write_text("package gateway\n\ndecision := {\n")
    env = {
        "SKEIN_DEV__ENABLED": "true",
        "SKEIN_STATE_DIR": str(tmp_path / "state"),
        "SKEIN_BUNDLE__POLICIES_DIR": str(policies),
        "SKEIN_BUNDLE__PROFILES_DIR": str(REPO / "bundles"),
        "SKEIN_SERVER__PORT": "0",
        "SKEIN_GUARD__ENABLED": "false",
    }
    done = skein_process("serve", env=env)
    assert done.returncode == EXIT_USAGE, done.stderr
    assert "Traceback" not in done.stderr
    [line] = human_lines(done.stderr)
    assert line.startswith("skein: bundle.source 'directory'") and "broken.rego" in line, line


@pytest.mark.e2e
def test_an_unreachable_audit_database_is_exit_3_with_one_line(tmp_path: Path) -> None:
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    env = {
        "SKEIN_DEV__ENABLED": "true",
        "SKEIN_STATE_DIR": str(tmp_path / "state"),
        "SKEIN_BUNDLE__POLICIES_DIR": str(REPO / "policies"),
        "SKEIN_BUNDLE__PROFILES_DIR": str(REPO / "bundles"),
        "SKEIN_AUDIT__SINK": "postgres",
        "SKEIN_AUDIT__POSTGRES_DSN": DEFAULT_POSTGRES_DSN.replace(":5432", f":{port}"),
        "SKEIN_SERVER__PORT": "0",
        "SKEIN_GUARD__ENABLED": "false",
    }
    done = skein_process("serve", env=env)
    assert done.returncode == EXIT_UNAVAILABLE, done.stderr
    assert "Traceback" not in done.stderr
    [line] = human_lines(done.stderr)
    assert line.startswith("skein: cannot start: ") and "Postgres" in line and "--debug" in line, line
