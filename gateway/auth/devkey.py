"""Dev mode: a local ES256 signing key, so ``skein token`` works without an identity provider.

The key lives in ``<state_dir>/dev-signing-key.pem`` (PKCS#8, mode 0600), created on first
use and reused afterwards, so the gateway and the ``skein token`` command agree on it
without talking to each other. Its ``kid`` is the RFC 7638 thumbprint of the public key:
stable across restarts, different for every generated key.

Tokens it mints are verified in-process (no HTTP): ``DevKey`` is itself a key source.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import secrets
import stat
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt import PyJWK

from gateway.errors import Unauthenticated
from gateway.settings import DevSettings

log = logging.getLogger(__name__)

KEY_FILE = "dev-signing-key.pem"
ALGORITHM = "ES256"


class DevKey:
    def __init__(
        self,
        private_key: ec.EllipticCurvePrivateKey,
        settings: DevSettings,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(private_key.curve, ec.SECP256R1):
            raise ValueError("the dev signing key must be a P-256 key")
        self._private_key = private_key
        self.settings = settings
        self._clock = clock
        self._public_jwk = _public_jwk(private_key.public_key())
        self.kid: str = self._public_jwk["kid"]
        self._verification_key = PyJWK(self._public_jwk, ALGORITHM)

    @classmethod
    def load_or_create(cls, state_dir: Path, settings: DevSettings) -> DevKey:
        return cls(_load_or_create_pem(state_dir / KEY_FILE), settings)

    @property
    def issuer(self) -> str:
        return self.settings.issuer

    def jwks(self) -> dict[str, Any]:
        """The public JWKS document, for the gateway to serve and for clients to check tokens."""
        return {"keys": [dict(self._public_jwk)]}

    def mint(
        self,
        sub: str,
        roles: Sequence[str],
        tenant: str | None = None,
        ttl: int | None = None,
        email: str | None = None,
    ) -> str:
        now = int(self._clock())
        claims: dict[str, Any] = {
            "iss": self.settings.issuer,
            "aud": self.settings.audience,
            "sub": sub,
            "roles": list(roles),
            "iat": now,
            "nbf": now,
            "exp": now + (ttl if ttl is not None else self.settings.token_ttl_seconds),
            "jti": secrets.token_urlsafe(12),
        }
        if tenant is not None:
            claims["tenant"] = tenant
        if email is not None:
            claims["email"] = email
        return jwt.encode(claims, self._private_key, algorithm=ALGORITHM, headers={"kid": self.kid})

    async def key_for(self, kid: str | None, alg: str) -> PyJWK:
        """Key source for the dev verifier: only our own key and algorithm are accepted."""
        if kid is not None and kid != self.kid:
            # A token minted with an older (deleted) dev key lands here.
            raise Unauthenticated("token is signed by an unknown key", reason="unknown_key")
        if alg != ALGORITHM:
            raise Unauthenticated("token signing algorithm is not allowed", reason="algorithm_not_allowed")
        return self._verification_key


def _public_jwk(public_key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    numbers = public_key.public_numbers()
    jwk = {
        "crv": "P-256",
        "kty": "EC",
        "x": _b64(numbers.x.to_bytes(32, "big")),
        "y": _b64(numbers.y.to_bytes(32, "big")),
    }
    # RFC 7638: SHA-256 over the required members, sorted, without whitespace.
    thumbprint = hashlib.sha256(json.dumps(jwk, sort_keys=True, separators=(",", ":")).encode()).digest()
    return {**jwk, "kid": _b64(thumbprint), "alg": ALGORITHM, "use": "sig"}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _load_or_create_pem(path: Path) -> ec.EllipticCurvePrivateKey:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        return _create(path)
    except FileExistsError:
        return _load(path)  # normal case after the first run (or another process won the race)


def _create(path: Path) -> ec.EllipticCurvePrivateKey:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    # Written whole to a private temporary file (0600 from the start, not chmod after), then
    # hard-linked into place: the link fails if the key exists, so a key is never overwritten
    # and another process never reads a half-written file.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        os.link(tmp, path)
    finally:
        tmp.unlink()
    log.info("generated a dev signing key in %s", path)
    return key


def _load(path: Path) -> ec.EllipticCurvePrivateKey:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("dev signing key %s was readable by others (mode %o); restricting it to 0600", path, mode)
        path.chmod(0o600)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{path} does not hold an EC private key; delete it to generate a new dev key")
    return key
