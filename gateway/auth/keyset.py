"""One fetched JWKS: the issuer's signing keys by ``kid``.

A key set is immutable once built; a refresh builds a new one and swaps it in, so a
request that already holds a key set never sees it change underneath.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from jwt import PyJWK
from jwt.exceptions import PyJWTError

from gateway.auth.algorithms import key_accepts
from gateway.errors import Unauthenticated

log = logging.getLogger(__name__)


class Jwk:
    """One public key; the ``PyJWK`` per algorithm is built on first use and kept."""

    __slots__ = ("_by_alg", "data", "kid")

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data: dict[str, Any] = dict(data)
        kid = data.get("kid")
        self.kid: str | None = kid if isinstance(kid, str) else None
        self._by_alg: dict[str, PyJWK] = {}

    def for_alg(self, alg: str) -> PyJWK:
        cached = self._by_alg.get(alg)
        if cached is not None:
            return cached
        if not key_accepts(self.data, alg):
            # e.g. HS256 against an RSA key: the key-confusion attack.
            raise Unauthenticated(
                "token signing algorithm does not match the issuer key type", reason="algorithm_not_allowed"
            )
        try:
            key = PyJWK(self.data, alg)
        except PyJWTError as exc:
            raise Unauthenticated("issuer key cannot be used", reason="unknown_key") from exc
        self._by_alg[alg] = key
        return key


class KeySet:
    """The signing keys of one JWKS document (encryption keys are left out)."""

    __slots__ = ("_by_kid", "keys")

    def __init__(self, keys: tuple[Jwk, ...]) -> None:
        self.keys = keys
        self._by_kid = {key.kid: key for key in keys if key.kid is not None}

    @classmethod
    def from_document(cls, document: object) -> KeySet:
        """Parse a JWKS document; raise ``ValueError`` when it has no usable signing key."""
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise ValueError("not a JWKS document (no 'keys' list)")
        keys = tuple(Jwk(item) for item in document["keys"] if _is_signing_key(item))
        if not keys:
            raise ValueError("the JWKS has no signing keys")
        return cls(keys)

    def find(self, kid: str | None) -> Jwk | None:
        if kid is not None:
            return self._by_kid.get(kid)
        # Without a kid the choice is only unambiguous when there is exactly one key.
        return self.keys[0] if len(self.keys) == 1 else None

    def __len__(self) -> int:
        return len(self.keys)


def _is_signing_key(item: object) -> bool:
    # Keycloak publishes an RSA-OAEP encryption key beside its signing key; it must not
    # count as a candidate (it would also make "kid required" trigger for no reason).
    if not isinstance(item, dict) or not isinstance(item.get("kty"), str):
        log.warning("ignoring a JWKS entry without kty")
        return False
    return bool(item.get("use", "sig") == "sig")
