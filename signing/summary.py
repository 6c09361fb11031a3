"""A readable description of a bundle, for ``skein bundle inspect``.

Signer details come from the JWS header and are only as trustworthy as the bundle: the
summary says so unless the bundle was verified.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from signing.canonical import file_digest
from signing.engine import bundle_profiles
from signing.errors import BundleError
from signing.jws import single_token, unverified_header
from signing.manifest import REGO_SUFFIX, rego_package
from signing.verify import VerifiedBundle


@dataclass(frozen=True)
class FileEntry:
    name: str
    size: int
    sha256: str  # as signed: canonical for structured documents


@dataclass(frozen=True)
class RoleSummary:
    role: str
    allowed_models: tuple[str, ...]
    default_model: str | None


@dataclass(frozen=True)
class BundleSummary:
    revision: str
    digest: str
    roots: tuple[str, ...]
    metadata: dict[str, Any]
    files: tuple[FileEntry, ...]
    signer: dict[str, Any] | None
    signer_verified: bool
    roles: tuple[RoleSummary, ...]
    packages: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "revision": self.revision,
            "digest": self.digest,
            "roots": list(self.roots),
            "metadata": self.metadata,
            "files": [vars(f) for f in self.files],
            "signer": self.signer,
            "signer_verified": self.signer_verified,
            "roles": [{**vars(r), "allowed_models": list(r.allowed_models)} for r in self.roles],
            "packages": list(self.packages),
        }


def summarize(bundle: VerifiedBundle) -> BundleSummary:
    files = tuple(FileEntry(n, len(c), file_digest(n, c)) for n, c in sorted(bundle.files.items()))
    _, profiles = bundle_profiles(bundle)
    roles = tuple(
        RoleSummary(role, p.models.allowed, p.models.default) for role, p in sorted(profiles.items())
    )
    packages = sorted(
        {rego_package(n, c).replace("/", ".") for n, c in bundle.files.items() if n.endswith(REGO_SUFFIX)}
    )
    return BundleSummary(
        revision=bundle.revision,
        digest=bundle.digest,
        roots=bundle.manifest.roots,
        metadata=dict(bundle.manifest.metadata),
        files=files,
        signer=_signer(bundle),
        signer_verified=bundle.verified,
        roles=roles,
        packages=tuple(packages),
    )


def _signer(bundle: VerifiedBundle) -> dict[str, Any] | None:
    if bundle.signer is not None:
        return {k: v for k, v in vars(bundle.signer).items() if v is not None}
    if bundle.signatures is None:
        return None
    try:
        header = unverified_header(single_token(bundle.signatures))
    except BundleError as exc:
        return {"error": exc.detail}
    return {"method": "jws", "kid": header.get("kid"), "algorithm": header.get("alg")}
