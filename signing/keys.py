"""Signing keys: generation, PEM loading, and the algorithm and kid each key implies.

A key fixes its algorithm (RSA -> RS256, P-256 -> ES256, Ed25519 -> EdDSA): deriving the
algorithm from the trusted key, instead of believing the token's ``alg`` header, is what
closes the classic JWS algorithm-confusion holes.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Literal, get_args

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509 import load_pem_x509_certificate

from signing.errors import KeyFileError

Algorithm = Literal["RS256", "ES256", "EdDSA"]
ALGORITHMS: tuple[Algorithm, ...] = get_args(Algorithm)
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey

MIN_RSA_BITS = 2048


def generate_key(alg: str, *, rsa_bits: int = 3072) -> tuple[bytes, bytes]:
    """Return ``(private_pem, public_pem)`` for a fresh key of ``alg``."""
    key: PrivateKey
    if alg == "RS256":
        key = rsa.generate_private_key(public_exponent=65537, key_size=max(rsa_bits, MIN_RSA_BITS))
    elif alg == "ES256":
        key = ec.generate_private_key(ec.SECP256R1())
    elif alg == "EdDSA":
        key = ed25519.Ed25519PrivateKey.generate()
    else:
        raise KeyFileError(f"unsupported algorithm {alg!r}; use one of {', '.join(ALGORITHMS)}")
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return private_pem, public_pem(key.public_key())


def public_pem(key: PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def load_private_key(pem: bytes, *, source: str = "private key") -> PrivateKey:
    """Load an unencrypted PEM private key (PKCS#8, PKCS#1 or SEC1)."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise KeyFileError(f"not an unencrypted PEM private key: {exc}", file=source) from exc
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
        raise KeyFileError(f"unsupported key type {type(key).__name__}", file=source)
    algorithm_for(key.public_key(), source=source)
    return key


def load_public_key(pem: bytes, *, source: str = "public key") -> PublicKey:
    """Load a PEM public key (SubjectPublicKeyInfo or PKCS#1) or take it from a certificate."""
    try:
        key = (
            load_pem_x509_certificate(pem).public_key()
            if b"-----BEGIN CERTIFICATE-----" in pem
            else serialization.load_pem_public_key(pem)
        )
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise KeyFileError(f"not a PEM public key: {exc}", file=source) from exc
    if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey):
        raise KeyFileError(f"unsupported key type {type(key).__name__}", file=source)
    algorithm_for(key, source=source)
    return key


def algorithm_for(key: PublicKey, *, source: str = "key") -> Algorithm:
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise KeyFileError(f"RSA key of {key.key_size} bits is too small", file=source)
        return "RS256"
    if isinstance(key, ec.EllipticCurvePublicKey):
        if not isinstance(key.curve, ec.SECP256R1):
            raise KeyFileError(f"EC curve {key.curve.name} is not P-256 (ES256)", file=source)
        return "ES256"
    return "EdDSA"


def key_id(key: PublicKey) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url): a stable kid from the key alone."""
    members = _jwk_members(key)
    canonical = json.dumps(members, sort_keys=True, separators=(",", ":")).encode()
    return _b64(hashlib.sha256(canonical).digest())


def _jwk_members(key: PublicKey) -> dict[str, str]:
    if isinstance(key, rsa.RSAPublicKey):
        numbers = key.public_numbers()
        return {"kty": "RSA", "n": _b64(_int_bytes(numbers.n)), "e": _b64(_int_bytes(numbers.e))}
    if isinstance(key, ec.EllipticCurvePublicKey):
        point = key.public_numbers()
        x, y = point.x.to_bytes(32, "big"), point.y.to_bytes(32, "big")
        return {"kty": "EC", "crv": "P-256", "x": _b64(x), "y": _b64(y)}
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "x": _b64(raw)}


def _int_bytes(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
