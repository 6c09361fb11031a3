"""Successful token verifications, remembered until the token expires.

Verifying a signature costs tens of microseconds and a client sends the same token on
every call, so at thousands of requests per second the gateway would spend most of its
authentication time proving the same thing again. A hit here is one hash and one dict
lookup.

Only successes are stored, and only until ``exp``: a token that failed is verified again
next time (it may become valid after a key rotation), and nothing here can make a bad
token pass. Entries are keyed by the SHA-256 of the token, so the cache holds no bearer
credentials and its memory per entry does not grow with the token size.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable

from gateway.domain import Principal


class VerifiedTokens:
    """A bounded LRU map from token digest to ``(Principal, valid_until)``."""

    def __init__(self, max_size: int = 10_000, clock: Callable[[], float] = time.time) -> None:
        self._max_size = max_size
        self._clock = clock
        self._entries: OrderedDict[bytes, tuple[Principal, float]] = OrderedDict()

    @staticmethod
    def digest(token: str) -> bytes:
        return hashlib.sha256(token.encode()).digest()

    def get(self, digest: bytes) -> Principal | None:
        entry = self._entries.get(digest)
        if entry is None:
            return None
        principal, until = entry
        if self._clock() >= until:
            del self._entries[digest]
            return None
        self._entries.move_to_end(digest)
        return principal

    def put(self, digest: bytes, principal: Principal) -> None:
        # A token without exp is never cached: there is no moment it would stop being valid.
        if self._max_size <= 0 or principal.expires_at is None:
            return
        self._entries[digest] = (principal, principal.expires_at)
        self._entries.move_to_end(digest)
        while len(self._entries) > self._max_size:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
