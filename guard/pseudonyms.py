"""Pseudonym tokens: grammar, HMAC digests and the per-call map.

Token grammar (documented in docs/guard.md)::

    TOKEN   = ENTITY "_v" VERSION "_" DIGEST
    ENTITY  = [A-Z] [A-Z0-9_]* [A-Z0-9]      e.g. EMAIL_ADDRESS, EMPLOYEE_ID
    VERSION = [1-9] [0-9]*                    the tenant key version that made the digest
    DIGEST  = 8 lower-case hex digits         first 32 bits of HMAC-SHA256(key, ENTITY NUL value)

e.g. ``EMAIL_ADDRESS_v1_3f9a1c0d``. All tokens of a call have the same suffix shape
("_v", digits, "_", 8 hex), so no token is a prefix of another: the restorer can match
issued tokens verbatim, and a streaming restorer can decide from a bounded look-back.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

TOKEN_PATTERN = re.compile(r"[A-Z][A-Z0-9_]*[A-Z0-9]_v[1-9][0-9]*_[0-9a-f]{8}")
DIGEST_HEX = 8


class Signer(Protocol):
    """Computes keyed digests for one tenant with one key version.

    ``sign`` takes a batch so that a remote signer (Vault Transit) makes one round trip
    per call rather than one per value.
    """

    @property
    def version(self) -> int: ...

    def sign(self, messages: Sequence[bytes]) -> list[bytes]: ...


@dataclass(frozen=True, slots=True)
class HmacSigner:
    """Local HMAC-SHA256 with a secret held in memory (file or Vault KV provider)."""

    secret: bytes
    version: int

    def sign(self, messages: Sequence[bytes]) -> list[bytes]:
        return [hmac.new(self.secret, m, hashlib.sha256).digest() for m in messages]

    def __repr__(self) -> str:  # never print the secret
        return f"HmacSigner(version={self.version})"


def message(entity: str, value: str) -> bytes:
    """The entity type is part of the MAC input so that one value gets different tokens
    as different types (and a type change cannot map one token onto another's value)."""
    return entity.encode() + b"\x00" + value.encode("utf-8", "surrogatepass")


def make_tokens(signer: Signer, items: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """Token for each distinct ``(entity, value)``; collisions inside a call are resolved
    by re-signing with a counter so the map stays one-to-one (odds ~ n^2 / 2^33)."""
    unique = list(dict.fromkeys(items))
    digests = signer.sign([message(e, v) for e, v in unique])
    tokens: dict[tuple[str, str], str] = {}
    taken: set[str] = set()
    for (entity, value), digest in zip(unique, digests, strict=True):
        token = _format(entity, signer.version, digest)
        counter = 0
        while token in taken:
            counter += 1
            salted = message(entity, value) + b"\x00" + str(counter).encode()
            token = _format(entity, signer.version, signer.sign([salted])[0])
        taken.add(token)
        tokens[(entity, value)] = token
    return tokens


def _format(entity: str, version: int, digest: bytes) -> str:
    return f"{entity}_v{version}_{digest.hex()[:DIGEST_HEX]}"
