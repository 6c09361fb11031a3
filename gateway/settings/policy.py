"""The ``policy`` and ``bundle`` sections: which engine decides, and where the signed policy
bundle comes from and whom to trust for it."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from gateway.settings.base import Strict


class PolicySettings(Strict):
    engine: Literal["embedded", "remote"] = "embedded"
    opa_url: str | None = None
    timeout_seconds: float = Field(2.0, gt=0)
    decision_cache_size: int = Field(4096, ge=0)


class BundleSettings(Strict):
    """Where the policy bundle comes from and whom to trust for it (docs/bundles.md).

    ``source``: ``directory`` reads ``policies_dir`` + ``profiles_dir`` unsigned (dev only:
    allowed just when verification is off); ``file`` a signed ``.tar.gz`` at ``path``;
    ``url`` one fetched from ``url`` with ETag polling. ``verify`` defaults to on, except in
    dev mode; on means a bundle is used only if a ``trusted_keys`` JWS and/or the Sigstore
    identity vouch for it.
    """

    source: Literal["directory", "file", "url"] = "directory"
    policies_dir: Path = Path("policies")
    profiles_dir: Path = Path("bundles")
    path: Path | None = None
    url: str | None = Field(None, pattern=r"^https?://")
    poll_interval_seconds: float = Field(30.0, gt=0)
    http_timeout_seconds: float = Field(10.0, gt=0)
    verify: bool | None = None
    trusted_keys: dict[str, Path] = {}  # kid -> public key PEM file
    allowed_algorithms: tuple[Literal["RS256", "ES256", "EdDSA"], ...] = ("RS256", "ES256", "EdDSA")
    scope: str | None = None
    sigstore_identity: str | None = None
    sigstore_issuer: str | None = None
    sigstore_repository: str | None = None
    sigstore_instance: Literal["production", "staging"] = "production"
    sigstore_trusted_root: Path | None = None
    watch: bool | None = None  # dev: reload when sources change (default: on in dev mode)
    dev_signing_key: Path | None = None  # dev: rebuild + sign ``path`` from the sources on change
    # A second signed bundle evaluated beside the active one on live traffic, off the request
    # path; disagreements are counted and logged, never served (docs/policy-guide.md, "Shadow").
    shadow_path: Path | None = None
    shadow_queue_size: int = Field(1024, ge=1, le=1_000_000)  # decisions waiting; beyond: dropped
    # Signed candidate bundles (*.tar.gz) the /ui explorer may replay recorded decisions with.
    candidates_dir: Path | None = None

    @model_validator(mode="after")
    def _source_is_complete(self) -> BundleSettings:
        if self.source == "file" and self.path is None:
            raise ValueError("source 'file' needs bundle.path")
        if self.source == "url" and self.url is None:
            raise ValueError("source 'url' needs bundle.url")
        if (self.sigstore_identity is None) != (self.sigstore_issuer is None):
            raise ValueError("sigstore_identity and sigstore_issuer go together")
        if self.dev_signing_key is not None and self.source != "file":
            raise ValueError("dev_signing_key rebuilds bundle.path: it needs source 'file'")
        return self

    def verification(self, dev_mode: bool) -> bool:
        """Verification is on unless turned off, or left unset in dev mode."""
        return self.verify if self.verify is not None else not dev_mode

    def watching(self, dev_mode: bool) -> bool:
        """Source watching is a dev-mode convenience; outside dev mode it is never on."""
        return dev_mode and (self.watch if self.watch is not None else True)
