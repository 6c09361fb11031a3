"""The ``auth`` and ``dev`` sections: who callers are (JWTs, API keys) and dev mode's own key."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from gateway.settings.base import Strict


class DevSettings(Strict):
    """Dev mode: a local signing key and its JWKS, so ``skein token`` works out of the box."""

    enabled: bool = False
    issuer: str = "skein-dev"
    audience: str = "skein"
    token_ttl_seconds: int = Field(8 * 3600, gt=0)


class ApiKey(Strict):
    """A service account. Only the SHA-256 of the key is stored (``skein keys hash``)."""

    name: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    sub: str
    roles: tuple[str, ...]
    tenant: str = "default"

    @field_validator("sha256", mode="before")
    @classmethod
    def _quoted(cls, value: object) -> object:
        if isinstance(value, int | float):  # an all-digit hash reads as a number in YAML
            raise ValueError("quote it: an all-digit SHA-256 in YAML reads as a number")
        return value


class AuthSettings(Strict):
    issuer: str | None = None
    audience: tuple[str, ...] = ()
    jwks_url: str | None = None
    discovery: bool = True
    algorithms: tuple[str, ...] = ("RS256", "ES256", "EdDSA")
    leeway_seconds: int = Field(30, ge=0)
    roles_claim: str = "roles"
    tenant_claim: str = "tenant"
    default_tenant: str = "default"
    jwks_ttl_seconds: int = Field(300, gt=0)
    jwks_min_refresh_seconds: float = Field(10.0, ge=0)
    http_timeout_seconds: float = Field(5.0, gt=0)
    api_keys: tuple[ApiKey, ...] = ()

    @field_validator("audience", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value

    @field_validator("algorithms")
    @classmethod
    def _no_none(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(alg.lower() == "none" for alg in value):
            raise ValueError("'none' is never an acceptable JWT algorithm")
        return value
