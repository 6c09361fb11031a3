"""Sigstore as a second trust option: a keyless signature over the whole bundle file.

CI signs ``bundle.tar.gz`` with its workload identity (``sigstore sign`` or
``cosign sign-blob --bundle``) and ships the detached ``bundle.tar.gz.sigstore.json``
beside it; we check the certificate chain, the transparency-log proof, the signature
and the signer's identity (SAN), OIDC issuer and optionally its GitHub repository.

Offline by construction: ``Verifier.production(offline=True)`` would still go through the
TUF client, which copies the embedded trust root into ``~/.cache/sigstore-python`` and then
trusts whatever that cache holds. We instead build the ``Verifier`` directly from a trust
root: a configured ``trusted_root.json`` file, or the one embedded in the installed
``sigstore`` package. Verification itself makes no network calls (the bundle carries the
log inclusion proof). The ``sigstore`` import is deferred because it is slow and only
this trust option needs it.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import quote

from signing.archive import DEFAULT_LIMITS, Limits
from signing.errors import SigstoreError
from signing.verify import Signer, VerifiedBundle, read_unverified

if TYPE_CHECKING:
    from sigstore.models import TrustedRoot
    from sigstore.verify.policy import VerificationPolicy

# The TUF repositories whose trust roots ship inside the sigstore package (sigstore/_store).
_TUF_URLS = {
    "production": "https://tuf-repo-cdn.sigstore.dev",
    "staging": "https://tuf-repo-cdn.sigstage.dev",
}


@dataclass(frozen=True)
class SigstorePolicy:
    """Who must have signed: the certificate SAN, the OIDC issuer, optionally the repo."""

    identity: str  # e.g. https://github.com/acme/policies/.github/workflows/release.yml@refs/heads/main
    issuer: str  # e.g. https://token.actions.githubusercontent.com
    repository: str | None = None  # GitHub "owner/name"
    instance: Literal["production", "staging"] = "production"
    trusted_root: Path | None = None  # a trusted_root.json; default: the one sigstore embeds


def verify_sigstore(
    bundle_bytes: bytes, sigstore_bundle: bytes, policy: SigstorePolicy, limits: Limits = DEFAULT_LIMITS
) -> VerifiedBundle:
    """Check the detached Sigstore bundle for the whole file, then read it safely."""
    verify_sigstore_signature(bundle_bytes, sigstore_bundle, policy)
    unchecked = read_unverified(bundle_bytes, limits)
    signer = Signer("sigstore", policy.identity, "sigstore", issuer=policy.issuer)
    return VerifiedBundle(unchecked.files, unchecked.manifest, unchecked.digest, signer, unchecked.signatures)


def verify_sigstore_signature(artifact: bytes, sigstore_bundle: bytes, policy: SigstorePolicy) -> None:
    from sigstore.errors import Error as SigstoreLibError
    from sigstore.models import Bundle
    from sigstore.verify import Verifier

    try:
        bundle = Bundle.from_json(sigstore_bundle)
    except (SigstoreLibError, ValueError) as exc:
        raise SigstoreError(f"not a usable keyless Sigstore bundle: {exc}") from exc
    verifier = Verifier(trusted_root=load_trusted_root(policy))
    try:
        verifier.verify_artifact(artifact, bundle, _policy(policy))
    except (SigstoreLibError, ValueError) as exc:
        raise SigstoreError(f"verification failed: {exc}") from exc


def load_trusted_root(policy: SigstorePolicy) -> TrustedRoot:
    from sigstore.errors import Error as SigstoreLibError
    from sigstore.models import TrustedRoot

    try:
        if policy.trusted_root is not None:
            return TrustedRoot.from_file(str(policy.trusted_root))
        store = quote(_TUF_URLS[policy.instance], safe="")
        embedded = resources.files("sigstore._store") / store / "trusted_root.json"
        with resources.as_file(embedded) as path:
            return TrustedRoot.from_file(str(path))
    except (OSError, ValueError, SigstoreLibError) as exc:
        raise SigstoreError(f"cannot load the Sigstore trusted root: {exc}") from exc


def _policy(policy: SigstorePolicy) -> VerificationPolicy:
    from sigstore.verify.policy import (
        AllOf,
        AnyOf,
        GitHubWorkflowRepository,
        Identity,
        OIDCSourceRepositoryURI,
    )

    checks: list[VerificationPolicy] = [Identity(identity=policy.identity, issuer=policy.issuer)]
    if policy.repository:
        # Older Fulcio certificates carry the v1 repository extension, newer ones the v2 URI.
        checks.append(
            AnyOf(
                [
                    GitHubWorkflowRepository(policy.repository),
                    OIDCSourceRepositoryURI(f"https://github.com/{policy.repository}"),
                ]
            )
        )
    return AllOf(checks)
