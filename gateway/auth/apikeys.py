"""Static API keys for service accounts.

The configuration holds only the SHA-256 of each key (``auth.api_keys[].sha256``), so a
leaked config file does not leak credentials. Keys are long random strings, so a plain
(unsalted, fast) hash is enough: there is nothing to brute-force. Lookup hashes the
presented key and does one dict lookup; comparing digests rather than keys means the
lookup time tells an attacker nothing useful about the secret.

New keys carry a recognisable prefix (``sk-skein-``) so that secret scanners and people
can tell what a leaked string is.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable

from gateway.domain import Principal
from gateway.settings import ApiKey

API_KEY_PREFIX = "sk-skein-"


def hash_api_key(key: str) -> str:
    """The value to put in ``auth.api_keys[].sha256``."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_api_key() -> str:
    """A fresh key: the prefix and 256 bits of randomness, URL-safe."""
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


class ApiKeyStore:
    """Configured service accounts by key hash; each maps to one fixed ``Principal``."""

    def __init__(self, keys: Iterable[ApiKey]) -> None:
        self._by_hash: dict[str, Principal] = {}
        for entry in keys:
            if entry.sha256 in self._by_hash:
                raise ValueError(f"auth.api_keys: key {entry.name!r} has the same sha256 as another entry")
            # Built once: every request with this key gets the same immutable Principal.
            self._by_hash[entry.sha256] = Principal(
                sub=entry.sub, roles=tuple(entry.roles), tenant=entry.tenant, method="api_key"
            )

    def lookup(self, presented: str) -> Principal | None:
        return self._by_hash.get(hash_api_key(presented))

    def __len__(self) -> int:
        return len(self._by_hash)
