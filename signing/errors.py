"""Every way a bundle can be refused, as one exception tree.

Each class carries a short, stable ``reason`` code (a metric label and the word a CI log
shows in brackets) and the bundle ``file`` the rule failed on, when there is one::

    BundleError                      reason            rule
    ├── ArchiveError                 malformed_archive  not a gzip'd tar, or trailing garbage
    │   ├── UnsafePath               unsafe_path        ``../x``, absolute or odd member names
    │   ├── LinkMember               link_member        symlinks and hard links
    │   ├── SpecialMember            special_member     devices, FIFOs, sparse files
    │   ├── DuplicateMember          duplicate_member   the same name twice
    │   ├── MemberTooLarge           member_too_large   one member over the limit
    │   ├── ArchiveTooLarge          archive_too_large  compressed size or member count over the limit
    │   └── DecompressionLimit       decompression_limit  more bytes out of gzip than allowed (a bomb)
    ├── ContentError                 bad_content        unparsable JSON data or Rego package
    │   └── ManifestError            bad_manifest       ``.manifest`` missing or invalid
    │       └── RootsViolation       outside_roots      data or a package outside the manifest roots
    ├── SignatureError               bad_signature      the JWS does not verify
    │   ├── UnsignedBundle           unsigned           no ``.signatures.json`` while keys are configured
    │   ├── MalformedSignature       malformed_signature  not exactly one well-formed JWS
    │   ├── UnknownKey               unknown_kid        the kid is not a trusted key
    │   ├── AlgorithmNotAllowed      alg_not_allowed    alg not allowed, or not the key's alg
    │   ├── ScopeMismatch            scope_mismatch     signed scope differs from the expected one
    │   ├── UnlistedFile             unlisted_file      a file the signature does not list
    │   ├── MissingFile              missing_file       a listed file that is not in the archive
    │   └── DigestMismatch           digest_mismatch    a file's SHA-256 differs from the signed one
    ├── SigstoreError                sigstore_failed    the detached Sigstore bundle does not verify
    └── KeyFileError                 bad_key            a PEM that is not a usable key

``schema.SchemaError`` (a ``ValueError``) reports invalid profile sources at build time.
"""

from __future__ import annotations


class BundleError(ValueError):
    """A bundle was refused; ``reason`` says which rule, ``file`` which member."""

    reason = "invalid_bundle"

    def __init__(self, message: str, *, file: str | None = None) -> None:
        self.file = file
        where = f"{file}: " if file else ""
        super().__init__(f"[{self.reason}] {where}{message}")
        self.detail = message


class ArchiveError(BundleError):
    reason = "malformed_archive"


class UnsafePath(ArchiveError):
    reason = "unsafe_path"


class LinkMember(ArchiveError):
    reason = "link_member"


class SpecialMember(ArchiveError):
    reason = "special_member"


class DuplicateMember(ArchiveError):
    reason = "duplicate_member"


class MemberTooLarge(ArchiveError):
    reason = "member_too_large"


class ArchiveTooLarge(ArchiveError):
    reason = "archive_too_large"


class DecompressionLimit(ArchiveError):
    reason = "decompression_limit"


class ContentError(BundleError):
    reason = "bad_content"


class ManifestError(ContentError):
    reason = "bad_manifest"


class RootsViolation(ManifestError):
    reason = "outside_roots"


class SignatureError(BundleError):
    reason = "bad_signature"


class UnsignedBundle(SignatureError):
    reason = "unsigned"


class MalformedSignature(SignatureError):
    reason = "malformed_signature"


class UnknownKey(SignatureError):
    reason = "unknown_kid"


class AlgorithmNotAllowed(SignatureError):
    reason = "alg_not_allowed"


class ScopeMismatch(SignatureError):
    reason = "scope_mismatch"


class UnlistedFile(SignatureError):
    reason = "unlisted_file"


class MissingFile(SignatureError):
    reason = "missing_file"


class DigestMismatch(SignatureError):
    reason = "digest_mismatch"


class SigstoreError(BundleError):
    reason = "sigstore_failed"


class KeyFileError(BundleError):
    reason = "bad_key"
