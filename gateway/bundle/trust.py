"""Whom the gateway trusts for a bundle, and turning trusted bytes into ``BundleContent``.

``Trust`` is built once at start-up from ``BundleSettings``: the public keys are read from
their PEM files then, so a missing or unusable key stops the process with a clear message
instead of making every later bundle fail. With verification on, a bundle must pass the JWS
check against ``trusted_keys`` and/or the Sigstore identity check (each one configured must
pass, as ``skein bundle verify`` does); with it off (dev mode), the archive and layout
checks still apply, so even an unsigned dev bundle is read safely.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from gateway.bundle.source import BundleContent
from gateway.settings import BundleSettings, SettingsError
from signing import (
    BundleError,
    PublicKey,
    SigstoreError,
    SigstorePolicy,
    VerifiedBundle,
    VerifyOptions,
    bundle_profiles,
    load_public_key,
    policy_inputs,
    read_unverified,
    verify,
    verify_sigstore,
)

TEST_SUFFIX = "_test.rego"
SIGSTORE_SUFFIX = ".sigstore.json"  # the detached Sigstore bundle sits next to the bundle


class TrustConfigError(SettingsError):
    """The trust settings are unusable (a key file, or verification with nothing to trust).

    A configuration error like any other: ``skein serve`` prints it and exits with 2."""


@dataclass(frozen=True)
class Trust:
    required: bool
    keys: Mapping[str, PublicKey]
    options: VerifyOptions
    sigstore: SigstorePolicy | None = None

    @classmethod
    def from_settings(cls, settings: BundleSettings, *, dev_mode: bool) -> Trust:
        keys = {kid: _public_key(path) for kid, path in settings.trusted_keys.items()}
        sigstore = None
        if settings.sigstore_identity and settings.sigstore_issuer:
            sigstore = SigstorePolicy(
                settings.sigstore_identity,
                settings.sigstore_issuer,
                settings.sigstore_repository,
                settings.sigstore_instance,
                settings.sigstore_trusted_root,
            )
        required = settings.verification(dev_mode)
        if required and not keys and sigstore is None:
            raise TrustConfigError(
                "bundle.trusted_keys: bundle verification is on but nothing is trusted: set "
                "bundle.trusted_keys ({kid: public key PEM}) and/or bundle.sigstore_identity + "
                "sigstore_issuer (or bundle.verify: false in dev)"
            )
        options = VerifyOptions(allowed_algorithms=settings.allowed_algorithms, scope=settings.scope)
        return cls(required, keys, options, sigstore)

    @property
    def wants_sigstore_bundle(self) -> bool:
        return self.required and self.sigstore is not None

    def check(self, data: bytes, sigstore_bundle: bytes | None) -> VerifiedBundle:
        """Every configured check must pass; raises a ``signing.BundleError`` naming the rule."""
        if not self.required:
            return read_unverified(data, self.options.limits)
        results: list[VerifiedBundle] = []
        if self.keys:
            results.append(verify(data, self.keys, self.options))
        if self.sigstore is not None:
            if sigstore_bundle is None:
                raise SigstoreError(f"no detached Sigstore bundle (*{SIGSTORE_SUFFIX}) next to the bundle")
            results.append(verify_sigstore(data, sigstore_bundle, self.sigstore, self.options.limits))
        return results[0]  # the JWS result when there is one: it names the kid

    def content(self, data: bytes, sigstore_bundle: bytes | None, origin: str) -> BundleContent:
        """Verify, then unpack into what the store compiles (CPU-bound: run it in a thread)."""
        bundle = self.check(data, sigstore_bundle)
        catalog, profiles = bundle_profiles(bundle)
        # Test modules ship in the bundle (as `opa build` packs them); no rule of the
        # decision refers to them, so they are kept apart: run once before the bundle
        # serves (gateway.policy.exercise), never compiled into the serving engine.
        every = policy_inputs(bundle).modules
        modules = {name: source for name, source in every.items() if not name.endswith(TEST_SUFFIX)}
        tests = {name: source for name, source in every.items() if name.endswith(TEST_SUFFIX)}
        return BundleContent(
            policies=modules,
            catalog=catalog,
            profiles=profiles,
            digest=bundle.digest,
            origin=origin,
            revision=bundle.revision,
            signer=bundle.signer,
            tests=tests,
        )


def _public_key(path: Path) -> PublicKey:
    try:
        return load_public_key(path.read_bytes(), source=str(path))
    except OSError as exc:
        raise TrustConfigError(
            f"bundle.trusted_keys: cannot read {path}: {exc.strerror}; point it at the public key PEM "
            "(`skein keys generate` writes NAME.pub.pem)"
        ) from exc
    except BundleError as exc:
        raise TrustConfigError(f"bundle.trusted_keys: {path}: {exc}; it must be a public key PEM") from exc
