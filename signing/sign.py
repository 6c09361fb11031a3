"""``sign``: add (or replace) ``/.signatures.json`` in a built bundle.

The bundle is read with the same defensive reader the verifier uses and checked for a
valid manifest and layout first, so we never put a signature on something the gateway or
OPA would refuse anyway. The other members are repacked byte for byte (the writer is
reproducible), so signing only adds one file.
"""

from __future__ import annotations

from signing.archive import DEFAULT_LIMITS, Limits, read_archive, write_archive
from signing.canonical import file_digest
from signing.jws import make_token, signatures_document
from signing.keys import PrivateKey, key_id
from signing.manifest import SIGNATURES, check_layout, parse_manifest


def sign_bundle(
    bundle_bytes: bytes,
    private_key: PrivateKey,
    kid: str | None = None,
    *,
    scope: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> bytes:
    """Return the bundle with one JWS over every file; ``kid`` defaults to the key's thumbprint."""
    files = read_archive(bundle_bytes, limits)
    files.pop(SIGNATURES, None)
    check_layout(files, parse_manifest(files))
    digests = {name: file_digest(name, content) for name, content in files.items()}
    token = make_token(digests, private_key, kid or key_id(private_key.public_key()), scope)
    files[SIGNATURES] = signatures_document(token)
    return write_archive(files)
