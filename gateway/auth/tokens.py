"""JWT verification: signature, algorithm, issuer, audience and time claims.

The order of checks, and why:

1. ``peek``: split and decode the header and claims without trusting them, only to pick
   the verifier (by ``iss``) and the key (by ``kid``). Nothing read here is believed.
2. the header's ``alg`` must be on the allowlist (``none`` never is; HS* only if listed);
3. the time claims ``exp``/``nbf``/``iat`` must be JSON numbers (RFC 7519 NumericDate):
   pyjwt runs ``int()`` on them, so a string ``"exp": "99999999999"`` or ``true`` would
   otherwise pass as a date. Refusing on the unverified claims is safe (it only refuses)
   and spares a key lookup for junk;
4. the key comes from the key source by ``kid`` and must be of the type the ``alg``
   needs (no RSA public key used as an HMAC secret);
5. pyjwt verifies the signature first, then ``exp``/``nbf``/``iat`` with the leeway,
   ``iss`` and ``aud`` (any configured audience); only then are the claims used.

Each failure is an ``Unauthenticated`` with a stable reason code. Messages never contain
values taken from the token: they are sent back in the ``WWW-Authenticate`` header.
"""

from __future__ import annotations

import binascii
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import jwt
import orjson
from jwt import PyJWK
from jwt import exceptions as jwt_errors
from jwt.utils import base64url_decode

from gateway.auth.algorithms import check_allowed
from gateway.auth.claims import ClaimRules, principal_from
from gateway.domain import Principal
from gateway.errors import Unauthenticated


class KeySource(Protocol):
    """Anything that finds the verification key for a ``kid``/``alg``: the JWKS cache, the dev key."""

    async def key_for(self, kid: str | None, alg: str) -> PyJWK: ...


@dataclass(frozen=True, slots=True)
class UnverifiedToken:
    """Header and claims of a token whose signature has NOT been checked yet."""

    header: dict[str, Any]
    claims: dict[str, Any]

    @property
    def issuer(self) -> str | None:
        iss = self.claims.get("iss")
        return iss if isinstance(iss, str) else None


def looks_like_jwt(value: str) -> bool:
    """Compact JWS: three dot-separated segments (the last is empty for ``alg: none``)."""
    return value.count(".") == 2


def peek(token: str) -> UnverifiedToken:
    parts = token.split(".")
    if len(parts) != 3:
        raise _malformed()
    return UnverifiedToken(header=_segment(parts[0]), claims=_segment(parts[1]))


def _segment(part: str) -> dict[str, Any]:
    try:
        value = orjson.loads(base64url_decode(part.encode("ascii")))
    except (UnicodeEncodeError, binascii.Error, ValueError) as exc:
        raise _malformed() from exc
    if not isinstance(value, dict):
        raise _malformed()
    return value


def _malformed() -> Unauthenticated:
    return Unauthenticated("token is not a well-formed JWT", reason="malformed_token")


class TokenVerifier:
    """Verifies tokens of one issuer against one key source."""

    def __init__(self, keys: KeySource, rules: ClaimRules, algorithms: frozenset[str]) -> None:
        self._keys = keys
        self._rules = rules
        self._algorithms = algorithms
        self._require = ["exp", "sub"]

    @property
    def rules(self) -> ClaimRules:
        return self._rules

    async def verify(self, token: str, unverified: UnverifiedToken) -> Principal:
        alg = check_allowed(unverified.header.get("alg"), self._algorithms)
        _require_numeric_dates(unverified.claims)  # the very bytes pyjwt verifies below
        kid = unverified.header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise _malformed()
        key = await self._keys.key_for(kid, alg)
        claims = self._decode(token, key, alg)
        return principal_from(claims, self._rules)

    def _decode(self, token: str, key: PyJWK, alg: str) -> dict[str, Any]:
        rules = self._rules
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=list(rules.audiences) or None,
                issuer=rules.issuer,
                leeway=rules.leeway_seconds,
                # With no audience configured pyjwt would reject every token carrying one;
                # the authenticator warns at start-up about that configuration instead.
                options={"require": self._require, "verify_aud": bool(rules.audiences)},
            )
        except jwt_errors.PyJWTError as exc:
            raise _translate(exc) from exc
        return claims


_TIME_CLAIMS = ("exp", "nbf", "iat")


def _require_numeric_dates(claims: dict[str, Any]) -> None:
    for name in _TIME_CLAIMS:
        if name not in claims:
            continue
        value = claims[name]
        # bool is an int in Python; a finite int or float is what RFC 7519 calls a NumericDate
        # (pyjwt already refused NaN and infinity, which int() cannot convert).
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise Unauthenticated(f"token claim {name} is not a number", reason="malformed_token")


# Most specific first: InvalidSignatureError is a DecodeError, and so on.
_TRANSLATIONS: tuple[tuple[type[jwt_errors.PyJWTError], str, Callable[[Any], str]], ...] = (
    (jwt_errors.InvalidSignatureError, "invalid_signature", lambda e: "token signature is invalid"),
    (jwt_errors.ExpiredSignatureError, "token_expired", lambda e: "token has expired"),
    (jwt_errors.ImmatureSignatureError, "token_not_yet_valid", lambda e: "token is not valid yet"),
    (jwt_errors.InvalidIssuerError, "wrong_issuer", lambda e: "token issuer is not accepted"),
    (jwt_errors.InvalidAudienceError, "wrong_audience", lambda e: "token audience is not accepted"),
    (jwt_errors.MissingRequiredClaimError, "missing_claim", lambda e: f"token has no {e.claim} claim"),
    (jwt_errors.InvalidAlgorithmError, "algorithm_not_allowed", lambda e: "token algorithm is not allowed"),
)


def _translate(exc: jwt_errors.PyJWTError) -> Unauthenticated:
    for kind, reason, message in _TRANSLATIONS:
        if isinstance(exc, kind):
            return Unauthenticated(message(exc), reason=reason)
    # DecodeError, bad iat/nbf/exp types, InvalidKeyError...: the token itself is broken.
    return _malformed()
