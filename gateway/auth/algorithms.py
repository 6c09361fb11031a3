"""Which JWS algorithms are acceptable, and which key types each may be verified with.

Two classic JWT attacks live here:

* ``alg: none``: never acceptable, whatever the configuration says;
* key confusion: a token that says ``HS256`` while the issuer's key is RSA, hoping the
  verifier uses the public key as an HMAC secret. We only ever verify with a key whose
  type (``kty``/``crv``) matches the algorithm the header names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from jwt.algorithms import get_default_algorithms

from gateway.errors import Unauthenticated

HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})

# alg -> (kty, crv or None when any curve of that kty is fine)
_KEY_TYPES: dict[str, tuple[str, frozenset[str] | None]] = {
    **{alg: ("RSA", None) for alg in ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")},
    "ES256": ("EC", frozenset({"P-256"})),
    "ES256K": ("EC", frozenset({"secp256k1"})),
    "ES384": ("EC", frozenset({"P-384"})),
    "ES512": ("EC", frozenset({"P-521"})),
    "EdDSA": ("OKP", frozenset({"Ed25519", "Ed448"})),
    **{alg: ("oct", None) for alg in HMAC_ALGORITHMS},
}


def allowed_algorithms(configured: Iterable[str]) -> frozenset[str]:
    """Validate ``auth.algorithms`` once at start-up: a typo must fail loudly, not reject every token."""
    supported = set(get_default_algorithms()) & set(_KEY_TYPES)
    allowed = frozenset(configured)
    unknown = sorted(alg for alg in allowed if alg not in supported)
    if unknown:
        raise ValueError(f"auth.algorithms: unsupported JWT algorithm(s) {unknown}; use {sorted(supported)}")
    return allowed


def check_allowed(alg: object, allowed: frozenset[str]) -> str:
    """Return the header's ``alg`` if it is on the allowlist (``none`` can never be on it)."""
    if not isinstance(alg, str) or alg not in allowed or alg.lower() == "none":
        # The token's own value is not echoed: it ends up in a response header.
        raise Unauthenticated("token signing algorithm is not allowed", reason="algorithm_not_allowed")
    return alg


def key_accepts(jwk: Mapping[str, Any], alg: str) -> bool:
    """True when ``jwk`` may verify a signature made with ``alg``.

    The JWK's own ``alg`` (when published) must agree too: RFC 7517 makes it the one
    algorithm the key is meant for.
    """
    expected = _KEY_TYPES.get(alg)
    if expected is None:
        return False
    kty, curves = expected
    if jwk.get("kty") != kty:
        return False
    if curves is not None and jwk.get("crv") not in curves:
        return False
    declared = jwk.get("alg")
    return declared is None or declared == alg
