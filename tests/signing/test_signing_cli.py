"""``skein keys`` and ``skein bundle``: outputs and the exit codes CI relies on (0 / 1 / 2)."""

from __future__ import annotations

import argparse
import json
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.cli import bundle_cmd, keys_cmd
from tests.signing.helpers import FINANCE, repack, write_sources

ASSETS = Path(__file__).parent / "assets"
Run = Callable[..., tuple[int, str, str]]


@pytest.fixture()
def skein(capsys: pytest.CaptureFixture[str]) -> Run:
    """Run the commands through their own registrars (independent of main.py's list)."""

    def run(*argv: str) -> tuple[int, str, str]:
        parser = argparse.ArgumentParser(prog="skein")
        commands = parser.add_subparsers(dest="command", required=True)
        keys_cmd.register(commands)
        bundle_cmd.register(commands)
        try:
            args = parser.parse_args(argv)
            code = args.handler(args)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


@pytest.fixture()
def workspace(tmp_path: Path, skein: Run) -> Path:
    write_sources(tmp_path)
    assert skein("keys", "generate", "--alg", "ES256", "--out", str(tmp_path / "keys" / "dev"))[0] == 0
    code, out, err = skein(
        "bundle",
        "build",
        "--policies",
        str(tmp_path / "policies"),
        "--data",
        str(tmp_path / "data"),
        "--out",
        str(tmp_path / "dist" / "bundle.tar.gz"),
        "--revision",
        "r1",
    )
    assert code == 0, err
    assert "revision=r1" in out
    return tmp_path


def _sign(skein: Run, ws: Path, *extra: str) -> tuple[int, str, str]:
    return skein(
        "bundle",
        "sign",
        str(ws / "dist" / "bundle.tar.gz"),
        "--key",
        str(ws / "keys" / "dev.pem"),
        "--kid",
        "dev",
        *extra,
    )


def _verify(skein: Run, ws: Path, *extra: str) -> tuple[int, str, str]:
    return skein(
        "bundle",
        "verify",
        str(ws / "dist" / "bundle.tar.gz"),
        "--pubkey",
        str(ws / "keys" / "dev.pub.pem"),
        "--kid",
        "dev",
        *extra,
    )


def test_keys_generate_writes_a_private_key_only_the_owner_reads(workspace: Path, skein: Run) -> None:
    private = workspace / "keys" / "dev.pem"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert (workspace / "keys" / "dev.pub.pem").read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    code, out, _ = skein("keys", "kid", str(workspace / "keys" / "dev.pub.pem"))
    assert code == 0 and len(out.strip()) == 43


def test_keys_generate_refuses_to_overwrite(workspace: Path, skein: Run) -> None:
    code, _, err = skein("keys", "generate", "--out", str(workspace / "keys" / "dev"))
    assert code == 2 and "exists" in err


def test_sign_then_verify_succeeds(workspace: Path, skein: Run) -> None:
    assert _sign(skein, workspace)[0] == 0
    code, out, _ = _verify(skein, workspace)
    assert code == 0
    assert "revision=r1" in out and "kid=dev" in out and "alg=ES256" in out


def test_sign_to_another_file_and_with_scope(workspace: Path, skein: Run) -> None:
    out_file = workspace / "dist" / "signed.tar.gz"
    assert _sign(skein, workspace, "--scope", "prod", "--out", str(out_file))[0] == 0
    code, _, err = skein(
        "bundle", "verify", str(out_file), "--pubkey", str(workspace / "keys" / "dev.pub.pem"), "--kid", "dev"
    )
    assert code == 1 and "[scope_mismatch]" in err


def test_unsigned_bundle_fails_verification_with_exit_1(workspace: Path, skein: Run) -> None:
    code, _, err = _verify(skein, workspace)
    assert code == 1 and "[unsigned]" in err and ".signatures.json" in err


def test_tampered_bundle_fails_naming_rule_and_file(workspace: Path, skein: Run) -> None:
    _sign(skein, workspace)
    path = workspace / "dist" / "bundle.tar.gz"
    path.write_bytes(repack(path.read_bytes(), **{"extra.rego": b"package gateway\n"}))
    code, _, err = _verify(skein, workspace)
    assert code == 1 and "[unlisted_file] extra.rego" in err


def test_verify_needs_a_trust_option(workspace: Path, skein: Run) -> None:
    code, _, err = skein("bundle", "verify", str(workspace / "dist" / "bundle.tar.gz"))
    assert code == 2 and "--pubkey" in err


def test_missing_input_file_is_a_usage_error(workspace: Path, skein: Run) -> None:
    code, _, err = skein(
        "bundle",
        "verify",
        str(workspace / "nope.tar.gz"),
        "--pubkey",
        str(workspace / "keys" / "dev.pub.pem"),
    )
    assert code == 2 and "cannot read" in err


def test_unknown_option_is_a_usage_error(skein: Run) -> None:
    assert skein("bundle", "build", "--bogus")[0] == 2


def test_invalid_profile_fails_the_build_with_file_and_field(tmp_path: Path, skein: Run) -> None:
    write_sources(tmp_path)
    (tmp_path / "data" / "profiles" / "finance.yaml").write_text(FINANCE + "colour: blue\n")
    code, _, err = skein(
        "bundle",
        "build",
        "--policies",
        str(tmp_path / "policies"),
        "--data",
        str(tmp_path / "data"),
        "--out",
        str(tmp_path / "b.tar.gz"),
        "--no-git",
    )
    assert code == 1 and "finance.yaml: colour: unknown key" in err
    assert not (tmp_path / "b.tar.gz").exists()


def test_inspect_shows_revision_signer_roles_and_packages(workspace: Path, skein: Run) -> None:
    _sign(skein, workspace)
    code, out, _ = skein("bundle", "inspect", str(workspace / "dist" / "bundle.tar.gz"))
    assert code == 0
    assert "revision: r1" in out and "kid=dev" in out and "algorithm=ES256" in out and "NOT verified" in out
    assert "finance: allowed=['gpt-4o*', 'llama3.2'] default=gpt-4o-mini" in out
    assert "packages: gateway, gateway_test" in out and "profiles/data.json" in out


def test_inspect_json(workspace: Path, skein: Run) -> None:
    code, out, _ = skein("bundle", "inspect", str(workspace / "dist" / "bundle.tar.gz"), "--json")
    summary = json.loads(out)
    assert code == 0 and summary["revision"] == "r1" and summary["signer"] is None
    assert {f["name"] for f in summary["files"]} >= {".manifest", "decision.rego"}


def test_inspect_of_a_malformed_file_fails(tmp_path: Path, skein: Run) -> None:
    (tmp_path / "x.tar.gz").write_bytes(b"not a bundle")
    code, _, err = skein("bundle", "inspect", str(tmp_path / "x.tar.gz"))
    assert code == 1 and "[malformed_archive]" in err


def test_sigstore_verification_failure_exits_1(workspace: Path, skein: Run) -> None:
    code, _, err = skein(
        "bundle",
        "verify",
        str(workspace / "dist" / "bundle.tar.gz"),
        "--sigstore-bundle",
        str(ASSETS / "bundle_v3_github.whl.sigstore"),
        "--identity",
        "ci@example.com",
        "--issuer",
        "https://token.actions.githubusercontent.com",
    )
    assert code == 1 and "[sigstore_failed]" in err


def test_sigstore_needs_identity_and_issuer(workspace: Path, skein: Run) -> None:
    code, _, err = skein(
        "bundle",
        "verify",
        str(workspace / "dist" / "bundle.tar.gz"),
        "--sigstore-bundle",
        str(ASSETS / "bundle_v3_github.whl.sigstore"),
    )
    assert code == 2 and "--identity" in err
