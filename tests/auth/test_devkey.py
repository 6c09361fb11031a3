"""Dev mode key: created once with 0600, reused, its JWKS, minted tokens verify in-process."""

from __future__ import annotations

import stat
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from gateway.auth.authenticator import Authenticator
from gateway.auth.devkey import KEY_FILE, DevKey
from gateway.settings import AuthSettings, DevSettings
from tests.auth.helpers import reason_of

DEV = DevSettings(enabled=True)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_created_private_and_reused(tmp_path: Path) -> None:
    state = tmp_path / "state"
    first = DevKey.load_or_create(state, DEV)
    assert mode(state / KEY_FILE) == 0o600
    assert mode(state) == 0o700
    again = DevKey.load_or_create(state, DEV)
    assert again.kid == first.kid
    assert DevKey.load_or_create(tmp_path / "other", DEV).kid != first.kid
    assert not [p for p in state.iterdir() if p.name != KEY_FILE]  # no temporary file left behind


def test_lax_permissions_are_tightened(tmp_path: Path) -> None:
    DevKey.load_or_create(tmp_path, DEV)
    (tmp_path / KEY_FILE).chmod(0o644)
    DevKey.load_or_create(tmp_path, DEV)
    assert mode(tmp_path / KEY_FILE) == 0o600


def test_a_non_ec_key_file_is_refused(tmp_path: Path) -> None:
    pem = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (tmp_path / KEY_FILE).write_bytes(pem)
    with pytest.raises(ValueError, match="EC private key"):
        DevKey.load_or_create(tmp_path, DEV)


def test_jwks(dev_key: DevKey) -> None:
    (jwk,) = dev_key.jwks()["keys"]
    assert {k: jwk[k] for k in ("kty", "crv", "alg", "use", "kid")} == {
        "kty": "EC",
        "crv": "P-256",
        "alg": "ES256",
        "use": "sig",
        "kid": dev_key.kid,
    }
    assert "d" not in jwk  # public only
    assert len(dev_key.kid) == 43  # base64url SHA-256 thumbprint


def test_minted_claims(dev_key: DevKey) -> None:
    token = dev_key.mint("alice", ["finance", "analyst"], tenant="acme", ttl=120, email="alice@example.com")
    header = jwt.get_unverified_header(token)
    assert (header["alg"], header["kid"]) == ("ES256", dev_key.kid)
    claims = jwt.decode(token, _public(dev_key), algorithms=["ES256"], audience="skein")
    assert claims["iss"] == "skein-dev" and claims["sub"] == "alice"
    assert claims["roles"] == ["finance", "analyst"] and claims["tenant"] == "acme"
    assert claims["exp"] - claims["iat"] == 120 and claims["email"] == "alice@example.com"


def _public(dev_key: DevKey) -> jwt.PyJWK:
    return jwt.PyJWK(dev_key.jwks()["keys"][0])


async def test_verified_without_any_http(dev_key: DevKey) -> None:
    auth = Authenticator(AuthSettings(), None, dev_key=dev_key)  # no HTTP client at all
    principal = await auth.authenticate(f"Bearer {dev_key.mint('alice', ['finance'], email='a@example.com')}")
    assert (principal.sub, principal.roles, principal.method, principal.email) == (
        "alice",
        ("finance",),
        "dev",
        "a@example.com",
    )
    assert principal.tenant == "default"


async def test_a_token_from_another_dev_key_is_unknown(dev_key: DevKey, tmp_path: Path) -> None:
    other = DevKey.load_or_create(tmp_path / "elsewhere", DEV)
    auth = Authenticator(AuthSettings(), None, dev_key=dev_key)
    assert await reason_of(auth.authenticate(f"Bearer {other.mint('mallory', ['admin'])}")) == "unknown_key"


async def test_dev_tokens_expire(dev_key: DevKey) -> None:
    auth = Authenticator(AuthSettings(leeway_seconds=0), None, dev_key=dev_key)
    token = dev_key.mint("alice", ["finance"], ttl=-1)
    assert await reason_of(auth.authenticate(f"Bearer {token}")) == "token_expired"
