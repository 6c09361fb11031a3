"""``skein token`` refuses a role the bundle has no profile for, unless ``--force``."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.cli.common import EXIT_OK, EXIT_USAGE
from tests.cli.conftest import Run
from tests.support.server import REPO


@pytest.fixture(autouse=True)
def dev_mode(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SKEIN_DEV__ENABLED", "true")
    monkeypatch.setenv("SKEIN_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("SKEIN_BUNDLE__PROFILES_DIR", str(REPO / "bundles"))


def test_a_role_with_a_profile_gets_a_token(skein: Run) -> None:
    code, out, err = skein("token", "--sub", "alice", "--role", "finance")
    assert code == EXIT_OK and out.count(".") == 2 and err == ""


def test_a_role_without_a_profile_is_refused_with_the_known_roles(skein: Run) -> None:
    code, out, err = skein("token", "--sub", "alice", "--role", "finance", "--role", "sales")
    assert code == EXIT_USAGE and out == ""
    [line] = err.splitlines()
    assert "no profile for role 'sales'" in line and "finance" in line and "403 unknown_role" in line
    assert "--force" in line


def test_force_mints_it_anyway(skein: Run) -> None:
    code, out, _ = skein("token", "--sub", "alice", "--role", "sales", "--force")
    assert code == EXIT_OK and out.count(".") == 2


def test_the_roles_of_a_signed_bundle_file(
    skein: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = tmp_path / "bundle.tar.gz"
    assert (
        skein(
            "bundle",
            "build",
            "--policies",
            str(REPO / "policies"),
            "--data",
            str(REPO / "bundles"),
            "--out",
            str(bundle),
            "--no-git",
        )[0]
        == EXIT_OK
    )
    monkeypatch.setenv("SKEIN_BUNDLE__SOURCE", "file")
    monkeypatch.setenv("SKEIN_BUNDLE__PATH", str(bundle))
    assert skein("token", "--sub", "a", "--role", "hr")[0] == EXIT_OK
    code, _, err = skein("token", "--sub", "a", "--role", "ceo")
    assert code == EXIT_USAGE and f"the bundle {bundle}" in err
    monkeypatch.setenv("SKEIN_BUNDLE__PATH", str(tmp_path / "missing.tar.gz"))
    code, _, err = skein("token", "--sub", "a", "--role", "hr")
    assert code == EXIT_USAGE and "bundle.path" in err and "--force" in err
