"""Verify a bundle before anything uses it, or read it unverified in dev mode.

Order of checks, cheapest and most fundamental first, so the reported reason is the root
cause: the archive must be safe to read at all (``archive``); then it must be signed; the
JWS must name a trusted key with an allowed algorithm and verify; its scope must be the
expected one; the signed file list must match the archive exactly (nothing unlisted,
nothing missing); each digest must match; finally the manifest and layout must be what
OPA would accept. Nothing is returned until every check has passed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Literal

from signing.archive import DEFAULT_LIMITS, Limits, read_archive
from signing.canonical import file_digest
from signing.errors import (
    ContentError,
    DigestMismatch,
    MissingFile,
    ScopeMismatch,
    UnlistedFile,
    UnsignedBundle,
)
from signing.jws import SignedPayload, single_token, verify_token
from signing.keys import ALGORITHMS, PublicKey
from signing.manifest import SIGNATURES, Manifest, check_layout, parse_manifest


@dataclass(frozen=True)
class Signer:
    """Who vouched for the bundle: a JWS key (kid, alg) or a Sigstore identity."""

    method: Literal["jws", "sigstore"]
    kid: str
    algorithm: str
    scope: str | None = None
    issuer: str | None = None


@dataclass(frozen=True)
class VerifiedBundle:
    """A bundle that passed every check; ``signer`` is None only from ``read_unverified``."""

    files: Mapping[str, bytes]  # every member except .signatures.json, by bundle path
    manifest: Manifest
    digest: str  # "sha256:<hex>" of the whole bundle file
    signer: Signer | None
    signatures: bytes | None = field(default=None, repr=False)  # raw .signatures.json

    @property
    def revision(self) -> str:
        return self.manifest.revision

    @property
    def verified(self) -> bool:
        return self.signer is not None


@dataclass(frozen=True)
class VerifyOptions:
    allowed_algorithms: Collection[str] = ALGORITHMS
    scope: str | None = None  # must equal the signed scope; None matches only an unscoped bundle
    limits: Limits = DEFAULT_LIMITS


def verify(
    bundle_bytes: bytes, trusted_keys: Mapping[str, PublicKey], options: VerifyOptions = VerifyOptions()
) -> VerifiedBundle:
    """Check the bundle's JWS against ``trusted_keys`` (kid -> public key) and every file."""
    files = read_archive(bundle_bytes, options.limits)
    signatures = files.pop(SIGNATURES, None)
    if signatures is None:
        raise UnsignedBundle("no .signatures.json, and verification is required", file=SIGNATURES)
    payload = verify_token(single_token(signatures), trusted_keys, options.allowed_algorithms)
    if payload.scope != (options.scope or None):
        raise ScopeMismatch(f"signed scope {payload.scope!r}, expected {options.scope!r}", file=SIGNATURES)
    check_files(files, payload)
    signer = Signer("jws", payload.kid, payload.algorithm, payload.scope)
    return _finish(bundle_bytes, files, signer, signatures)


def read_unverified(bundle_bytes: bytes, limits: Limits = DEFAULT_LIMITS) -> VerifiedBundle:
    """Read a bundle with the archive and layout checks but no signature check (dev mode)."""
    files = read_archive(bundle_bytes, limits)
    signatures = files.pop(SIGNATURES, None)
    return _finish(bundle_bytes, files, None, signatures)


def check_files(files: Mapping[str, bytes], payload: SignedPayload) -> None:
    """The archive must hold exactly the signed files, each with its signed digest."""
    for name in sorted(files):
        if name not in payload.digests:
            raise UnlistedFile("is in the bundle but not in the signature", file=name)
    for name in sorted(payload.digests):
        if name not in files:
            raise MissingFile("is listed in the signature but missing from the bundle", file=name)
    for name in sorted(files):
        actual = file_digest(name, files[name])
        if actual != payload.digests[name]:
            signed = payload.digests[name]
            raise DigestMismatch(f"SHA-256 {actual} does not match the signed {signed}", file=name)


def bundle_digest(bundle_bytes: bytes) -> str:
    return "sha256:" + hashlib.sha256(bundle_bytes).hexdigest()


def _finish(
    bundle_bytes: bytes, files: dict[str, bytes], signer: Signer | None, signatures: bytes | None
) -> VerifiedBundle:
    for name in files:
        # OPA treats any member ending in "signatures.json" as signatures, not as content;
        # a second one would be read differently by OPA and by us, so it is refused.
        if name.endswith("signatures.json"):
            raise ContentError("only /.signatures.json may end in 'signatures.json'", file=name)
    manifest = parse_manifest(files)
    check_layout(files, manifest)
    return VerifiedBundle(files, manifest, bundle_digest(bundle_bytes), signer, signatures)
