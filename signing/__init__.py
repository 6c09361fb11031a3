"""Skein's signed policy bundles, in OPA's bundle format (never imports ``gateway``).

Typical use::

    raw = build_bundle(Path("policies"), Path("bundles"))
    signed = sign_bundle(raw, load_private_key(pem), kid="dev")
    bundle = verify(signed, {"dev": load_public_key(pub_pem)})      # or read_unverified(...)
    inputs = policy_inputs(bundle)          # .modules {path: rego}, .data {"profiles", "models"}

Every refusal is a ``BundleError`` subclass with a stable ``reason`` code; see ``errors``.
"""

from signing.archive import Limits
from signing.build import build_bundle, git_metadata
from signing.engine import PolicyInputs, bundle_profiles, policy_inputs
from signing.errors import (
    AlgorithmNotAllowed,
    ArchiveError,
    ArchiveTooLarge,
    BundleError,
    ContentError,
    DecompressionLimit,
    DigestMismatch,
    DuplicateMember,
    KeyFileError,
    LinkMember,
    MalformedSignature,
    ManifestError,
    MemberTooLarge,
    MissingFile,
    RootsViolation,
    ScopeMismatch,
    SignatureError,
    SigstoreError,
    SpecialMember,
    UnknownKey,
    UnlistedFile,
    UnsafePath,
    UnsignedBundle,
)
from signing.keys import (
    ALGORITHMS,
    Algorithm,
    PrivateKey,
    PublicKey,
    algorithm_for,
    generate_key,
    key_id,
    load_private_key,
    load_public_key,
    public_pem,
)
from signing.manifest import Manifest
from signing.schema import SchemaError
from signing.sign import sign_bundle
from signing.sigstore_trust import SigstorePolicy, verify_sigstore
from signing.verify import Signer, VerifiedBundle, VerifyOptions, bundle_digest, read_unverified, verify

__all__ = [
    "ALGORITHMS",
    "Algorithm",
    "AlgorithmNotAllowed",
    "ArchiveError",
    "ArchiveTooLarge",
    "BundleError",
    "ContentError",
    "DecompressionLimit",
    "DigestMismatch",
    "DuplicateMember",
    "KeyFileError",
    "Limits",
    "LinkMember",
    "MalformedSignature",
    "Manifest",
    "ManifestError",
    "MemberTooLarge",
    "MissingFile",
    "PolicyInputs",
    "PrivateKey",
    "PublicKey",
    "RootsViolation",
    "SchemaError",
    "ScopeMismatch",
    "SignatureError",
    "Signer",
    "SigstoreError",
    "SigstorePolicy",
    "SpecialMember",
    "UnknownKey",
    "UnlistedFile",
    "UnsafePath",
    "UnsignedBundle",
    "VerifiedBundle",
    "VerifyOptions",
    "algorithm_for",
    "build_bundle",
    "bundle_digest",
    "bundle_profiles",
    "generate_key",
    "git_metadata",
    "key_id",
    "load_private_key",
    "load_public_key",
    "policy_inputs",
    "public_pem",
    "read_unverified",
    "sign_bundle",
    "verify",
    "verify_sigstore",
]
