"""The one JWS inside ``.signatures.json``: making it and checking it.

Payload, as OPA writes and reads it::

    {"files": [{"name": "profiles/data.json", "hash": "<hex sha-256>", "algorithm": "SHA-256"}, ...],
     "keyid": "<kid>", "scope": "<scope>"}

``kid`` goes in the protected header; the ``keyid`` claim is OPA's deprecated fallback and is
written too, so older OPA releases find the key. Only SHA-256 file digests are accepted.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from jwt.api_jws import PyJWS
from jwt.exceptions import InvalidSignatureError, PyJWTError

from signing.errors import AlgorithmNotAllowed, MalformedSignature, SignatureError, UnknownKey
from signing.keys import PrivateKey, PublicKey, algorithm_for
from signing.manifest import SIGNATURES

HASH_ALGORITHM = "SHA-256"
_HEX_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")  # OPA decodes hex, so either case


@dataclass(frozen=True)
class SignedPayload:
    """What a verified JWS vouches for: the signer and each file's digest."""

    kid: str
    algorithm: str
    scope: str | None
    digests: Mapping[str, str]  # bundle path -> hex SHA-256


def make_token(digests: Mapping[str, str], key: PrivateKey, kid: str, scope: str | None = None) -> str:
    alg = algorithm_for(key.public_key())
    files = [{"name": name, "hash": digests[name], "algorithm": HASH_ALGORITHM} for name in sorted(digests)]
    claims: dict[str, Any] = {"files": files, "keyid": kid}
    if scope:
        claims["scope"] = scope
    payload = json.dumps(claims, separators=(",", ":")).encode()
    # typ is dropped: OPA's signer does not set it and nothing reads it.
    return PyJWS().encode(payload, key, algorithm=alg, headers={"kid": kid, "typ": None})


def signatures_document(token: str) -> bytes:
    return json.dumps({"signatures": [token]}, indent=1).encode() + b"\n"


def single_token(content: bytes) -> str:
    """Extract the one JWS from ``.signatures.json`` (OPA refuses zero or several)."""
    try:
        body = json.loads(content)
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedSignature(f"not valid JSON: {exc}", file=SIGNATURES) from exc
    tokens = body.get("signatures") if isinstance(body, dict) else None
    if not isinstance(tokens, list) or len(tokens) != 1 or not isinstance(tokens[0], str):
        raise MalformedSignature('expected {"signatures": [<exactly one JWS>]}', file=SIGNATURES)
    if isinstance(body, dict) and body.get("plugin"):
        raise MalformedSignature("signing plugins are not supported", file=SIGNATURES)
    return tokens[0]


def unverified_header(token: str) -> dict[str, Any]:
    """The protected header, for display only (``inspect``) and key selection."""
    parts = token.split(".")
    if len(parts) != 3:
        raise MalformedSignature("a JWS in compact form has three parts", file=SIGNATURES)
    header = _b64json(parts[0])
    if not isinstance(header, dict):
        raise MalformedSignature("JWS header is not an object", file=SIGNATURES)
    return header


def verify_token(token: str, trusted: Mapping[str, PublicKey], allowed: Collection[str]) -> SignedPayload:
    header = unverified_header(token)
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in allowed:
        message = f"algorithm {alg!r} is not allowed (allowed: {sorted(allowed)})"
        raise AlgorithmNotAllowed(message, file=SIGNATURES)
    kid = _kid(header, token)
    key = trusted.get(kid)
    if key is None:
        raise UnknownKey(f"kid {kid!r} is not a trusted key (trusted: {sorted(trusted)})", file=SIGNATURES)
    if (key_alg := algorithm_for(key)) != alg:
        raise AlgorithmNotAllowed(f"token says {alg} but key {kid!r} is {key_alg}", file=SIGNATURES)
    try:
        decoded = PyJWS().decode_complete(token, key, algorithms=[alg])
    except InvalidSignatureError as exc:
        raise SignatureError(f"signature does not verify with key {kid!r}", file=SIGNATURES) from exc
    except PyJWTError as exc:
        raise MalformedSignature(f"cannot decode JWS: {exc}", file=SIGNATURES) from exc
    return _payload(decoded["payload"], kid, alg)


def _kid(header: Mapping[str, Any], token: str) -> str:
    kid = header.get("kid")
    if kid is None:
        claims = _b64json(token.split(".")[1])  # OPA's deprecated keyid claim as fallback
        kid = claims.get("keyid") if isinstance(claims, dict) else None
    if not isinstance(kid, str) or not kid:
        raise MalformedSignature("the JWS names no key (no kid header, no keyid claim)", file=SIGNATURES)
    return kid


def _payload(raw: bytes, kid: str, alg: str) -> SignedPayload:
    try:
        claims = json.loads(raw)
    except ValueError as exc:
        raise MalformedSignature(f"payload is not JSON: {exc}", file=SIGNATURES) from exc
    files = claims.get("files") if isinstance(claims, dict) else None
    if not isinstance(files, list):
        raise MalformedSignature("payload has no files list", file=SIGNATURES)
    scope = claims.get("scope")
    if scope is not None and not isinstance(scope, str):
        raise MalformedSignature("scope must be a string", file=SIGNATURES)
    return SignedPayload(kid, alg, scope or None, _digests(files))


def _digests(files: list[Any]) -> dict[str, str]:
    digests: dict[str, str] = {}
    for entry in files:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise MalformedSignature("each files entry needs a name", file=SIGNATURES)
        name = entry["name"].removeprefix("/")
        if entry.get("algorithm") != HASH_ALGORITHM:
            raise MalformedSignature(f"hash algorithm {entry.get('algorithm')!r} is not SHA-256", file=name)
        digest = entry.get("hash")
        if not isinstance(digest, str) or not _HEX_SHA256.match(digest):
            raise MalformedSignature("hash is not a hex SHA-256 digest", file=name)
        if name in digests:
            raise MalformedSignature("listed twice in the signature", file=name)
        digests[name] = digest.lower()
    return digests


def _b64json(segment: str) -> Any:
    try:
        return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (binascii.Error, ValueError) as exc:
        raise MalformedSignature(f"JWS segment is not base64url JSON: {exc}", file=SIGNATURES) from exc
