"""``skein token`` and ``skein apikey new``."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pytest
import yaml

from gateway.auth.apikeys import ApiKeyStore
from gateway.auth.authenticator import Authenticator
from gateway.auth.devkey import DevKey
from gateway.cli import token_cmd
from gateway.settings import AuthSettings, DevSettings, Settings


def run(argv: list[str]) -> int:
    # Only this module's commands: the test must not depend on every other command importing.
    parser = argparse.ArgumentParser(prog="skein")
    parser.add_argument("--config")
    token_cmd.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = args.handler(args)
    return code


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in list(os.environ):
        if name.startswith("SKEIN_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SKEIN_STATE_DIR", str(tmp_path / "state"))
    return tmp_path / "state"


def test_token_refused_unless_dev_mode(capsys: pytest.CaptureFixture[str], clean_env: Path) -> None:
    with pytest.raises(SystemExit) as caught:
        run(["token", "--sub", "alice", "--role", "finance"])
    assert caught.value.code == 2
    assert "SKEIN_DEV__ENABLED=true" in capsys.readouterr().err
    assert not clean_env.exists()  # no key was generated


async def test_token_minted_in_dev_mode(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, clean_env: Path
) -> None:
    monkeypatch.setenv("SKEIN_DEV__ENABLED", "true")
    argv = ["token", "--sub", "alice", "--role", "finance", "--role", "analyst", "--tenant", "acme"]
    assert run([*argv, "--ttl", "600", "--email", "alice@example.com"]) == 0
    token = capsys.readouterr().out.strip()
    # The gateway, started with the same settings, accepts it.
    key = DevKey.load_or_create(clean_env, DevSettings(enabled=True))
    principal = await Authenticator(AuthSettings(), None, dev_key=key).authenticate(f"Bearer {token}")
    assert (principal.sub, principal.roles, principal.tenant, principal.email) == (
        "alice",
        ("finance", "analyst"),
        "acme",
        "alice@example.com",
    )


def test_token_rejects_a_non_positive_ttl(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SKEIN_DEV__ENABLED", "true")
    with pytest.raises(SystemExit) as caught:
        run(["token", "--sub", "alice", "--role", "finance", "--ttl", "0"])
    assert caught.value.code == 2


def test_apikey_new_prints_a_key_and_a_valid_config_entry(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["apikey", "new", "--name", "svc", "--sub", "svc-bot", "--role", "analyst"]) == 0
    key, _, snippet = capsys.readouterr().out.partition("\n")
    assert key.startswith("sk-skein-")
    settings = Settings.model_validate(yaml.safe_load(snippet))
    principal = ApiKeyStore(settings.auth.api_keys).lookup(key)
    assert principal is not None and (principal.sub, principal.roles) == ("svc-bot", ("analyst",))
    assert key not in snippet
