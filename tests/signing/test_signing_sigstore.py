"""Keyless trust: real Sigstore bundles (from sigstore-python's test assets, see assets/README.md)
verify offline against the trust roots embedded in the sigstore package, and every altered
input or expectation is refused."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from signing import SigstoreError, SigstorePolicy, verify_sigstore
from signing.sigstore_trust import verify_sigstore_signature

ASSETS = Path(__file__).parent / "assets"
GITHUB_IDENTITY = "https://github.com/trailofbits/rfc8785.py/.github/workflows/release.yml@refs/tags/v0.1.2"
GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
GITHUB = SigstorePolicy(GITHUB_IDENTITY, GITHUB_ISSUER, repository="trailofbits/rfc8785.py")
EMAIL_ISSUER = "https://github.com/login/oauth"


def _asset(name: str) -> bytes:
    return (ASSETS / name).read_bytes()


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Fail any connection attempt, and hide the user's sigstore cache: proof of offline use."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("network access during Sigstore verification")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))


def test_github_actions_signature_verifies(tmp_path: Path) -> None:
    verify_sigstore_signature(_asset("bundle_v3_github.whl"), _asset("bundle_v3_github.whl.sigstore"), GITHUB)
    assert not (tmp_path / "cache").exists()  # nothing written to a TUF cache


def test_staging_email_identity_verifies() -> None:
    policy = SigstorePolicy("william@yossarian.net", EMAIL_ISSUER, instance="staging")
    verify_sigstore_signature(_asset("bundle_v3.txt"), _asset("bundle_v3.txt.sigstore"), policy)


def test_staging_rekor_v2_entry_verifies() -> None:
    policy = SigstorePolicy("jku@goto.fi", EMAIL_ISSUER, instance="staging")
    verify_sigstore_signature(
        _asset("staging-rekor-v2.txt"), _asset("staging-rekor-v2.txt.sigstore.json"), policy
    )


def test_tampered_artifact_is_refused() -> None:
    artifact = bytearray(_asset("bundle_v3_github.whl"))
    artifact[100] ^= 0x01
    with pytest.raises(SigstoreError) as exc:
        verify_sigstore_signature(bytes(artifact), _asset("bundle_v3_github.whl.sigstore"), GITHUB)
    assert exc.value.reason == "sigstore_failed"


def test_wrong_identity_is_refused() -> None:
    policy = SigstorePolicy(GITHUB_IDENTITY.replace("v0.1.2", "v9.9.9"), GITHUB_ISSUER)
    with pytest.raises(SigstoreError, match="SAN"):
        verify_sigstore_signature(
            _asset("bundle_v3_github.whl"), _asset("bundle_v3_github.whl.sigstore"), policy
        )


def test_wrong_issuer_is_refused() -> None:
    policy = SigstorePolicy(GITHUB_IDENTITY, "https://accounts.google.com")
    with pytest.raises(SigstoreError, match="OIDCIssuer"):
        verify_sigstore_signature(
            _asset("bundle_v3_github.whl"), _asset("bundle_v3_github.whl.sigstore"), policy
        )


def test_wrong_repository_is_refused() -> None:
    policy = SigstorePolicy(GITHUB_IDENTITY, GITHUB_ISSUER, repository="evil/rfc8785.py")
    with pytest.raises(SigstoreError):
        verify_sigstore_signature(
            _asset("bundle_v3_github.whl"), _asset("bundle_v3_github.whl.sigstore"), policy
        )


def test_wrong_instance_trust_root_is_refused() -> None:
    policy = SigstorePolicy("william@yossarian.net", EMAIL_ISSUER, instance="production")
    with pytest.raises(SigstoreError):
        verify_sigstore_signature(_asset("bundle_v3.txt"), _asset("bundle_v3.txt.sigstore"), policy)


def test_key_only_bundle_is_refused() -> None:
    policy = SigstorePolicy("william@yossarian.net", EMAIL_ISSUER, instance="staging")
    with pytest.raises(SigstoreError, match="keyless"):
        verify_sigstore_signature(_asset("bundle_v3.txt"), _asset("bundle_no_cert_v1.txt.sigstore"), policy)


def test_configured_trusted_root_file_is_used(tmp_path: Path) -> None:
    missing = SigstorePolicy(GITHUB_IDENTITY, GITHUB_ISSUER, trusted_root=tmp_path / "nope.json")
    with pytest.raises(SigstoreError, match="trusted root"):
        verify_sigstore_signature(
            _asset("bundle_v3_github.whl"), _asset("bundle_v3_github.whl.sigstore"), missing
        )


def test_a_skein_bundle_with_someone_elses_signature_is_refused(signed_bundle: bytes) -> None:
    with pytest.raises(SigstoreError):
        verify_sigstore(signed_bundle, _asset("bundle_v3_github.whl.sigstore"), GITHUB)
