"""Who is calling: the ``authenticate`` stage of the pipeline.

Credentials, in order of precedence:

* ``Authorization: Bearer <value>`` (OpenAI-style clients),
* ``x-api-key: <value>`` (Anthropic-style clients).

A value with three dot-separated segments is a JWT; anything else is an API key. A JWT is
routed by its (not yet verified) ``iss`` claim: the dev issuer goes to the local dev key,
verified in-process; anything else to the configured OIDC issuer and its JWKS. The routing
decision grants nothing: the chosen verifier checks ``iss`` again after the signature.

Successful JWT verifications are cached until the token's ``exp`` (see ``cache.py``), so the
steady state per request is one SHA-256 and one dict lookup.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import httpx

from gateway.auth.algorithms import allowed_algorithms
from gateway.auth.apikeys import ApiKeyStore
from gateway.auth.cache import VerifiedTokens
from gateway.auth.claims import ClaimRules
from gateway.auth.devkey import ALGORITHM as DEV_ALGORITHM
from gateway.auth.devkey import DevKey
from gateway.auth.jwks import JwksCache, JwksSource
from gateway.auth.tokens import TokenVerifier, looks_like_jwt, peek
from gateway.domain import Principal
from gateway.errors import Unauthenticated
from gateway.settings import AuthSettings, Settings

log = logging.getLogger(__name__)

DEFAULT_CACHE_SIZE = 10_000


class Authenticator:
    def __init__(
        self,
        settings: AuthSettings,
        http: httpx.AsyncClient | None = None,
        *,
        dev_key: DevKey | None = None,
        cache_size: int = DEFAULT_CACHE_SIZE,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.dev_key = dev_key
        self._api_keys = ApiKeyStore(settings.api_keys)
        self._cache = VerifiedTokens(cache_size, clock)
        self.jwks: JwksCache | None = None
        self._oidc: TokenVerifier | None = None
        if settings.issuer or settings.jwks_url:
            self.jwks = _jwks_cache(settings, http, monotonic)
            self._oidc = TokenVerifier(
                self.jwks, _oidc_rules(settings), allowed_algorithms(settings.algorithms)
            )
        self._dev = _dev_verifier(dev_key, settings) if dev_key else None

    @classmethod
    def from_settings(cls, settings: Settings, http: httpx.AsyncClient | None) -> Authenticator:
        """The usual construction in the app's lifespan (creates the dev key in dev mode)."""
        dev_key = DevKey.load_or_create(settings.state_dir, settings.dev) if settings.dev.enabled else None
        return cls(settings.auth, http, dev_key=dev_key)

    async def authenticate(self, authorization: str | None, api_key: str | None = None) -> Principal:
        """``authorization``: the Authorization header; ``api_key``: the x-api-key header."""
        credential = _credential(authorization, api_key)
        if looks_like_jwt(credential):
            return await self._verify_jwt(credential)
        principal = self._api_keys.lookup(credential)
        if principal is None:
            raise Unauthenticated("API key is not valid", reason="invalid_api_key")
        return principal

    def dev_jwks(self) -> dict[str, object] | None:
        """The dev key's public JWKS, for the app to serve in dev mode (``None`` otherwise)."""
        return self.dev_key.jwks() if self.dev_key else None

    @property
    def cached_tokens(self) -> int:
        return len(self._cache)

    async def aclose(self) -> None:
        """Stops an in-flight JWKS fetch; the HTTP client belongs to the caller."""
        if self.jwks is not None:
            await self.jwks.aclose()

    async def _verify_jwt(self, token: str) -> Principal:
        digest = VerifiedTokens.digest(token)
        cached = self._cache.get(digest)
        if cached is not None:
            return cached
        unverified = peek(token)
        verifier = self._route(unverified.issuer)
        principal = await verifier.verify(token, unverified)
        self._cache.put(digest, principal)
        return principal

    def _route(self, issuer: str | None) -> TokenVerifier:
        if self._dev is not None and issuer == self._dev.rules.issuer:
            return self._dev
        if self._oidc is not None and self._oidc.rules.issuer in (None, issuer):
            return self._oidc
        if issuer is None:
            raise Unauthenticated("token has no iss claim", reason="missing_claim")
        raise Unauthenticated("token issuer is not accepted", reason="wrong_issuer")


def _credential(authorization: str | None, api_key: str | None) -> str:
    if authorization and authorization.strip():
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() != "bearer":
            raise Unauthenticated("only Bearer credentials are accepted", reason="malformed_token")
        value = value.strip()
        if not value:
            raise Unauthenticated("the Bearer credential is empty", reason="missing_credentials")
        return value
    if api_key and api_key.strip():
        return api_key.strip()
    raise Unauthenticated("no credentials: send Authorization: Bearer <token>", reason="missing_credentials")


def _jwks_cache(
    settings: AuthSettings, client: httpx.AsyncClient | None, monotonic: Callable[[], float]
) -> JwksCache:
    if client is None:
        raise ValueError("auth: an HTTP client is needed to fetch the issuer's JWKS")
    if not settings.audience:
        # Without an audience, a token the issuer minted for any other application is accepted.
        log.warning("auth.audience is empty: tokens are accepted whatever their audience")
    source = JwksSource(jwks_url=settings.jwks_url, issuer=settings.issuer, discovery=settings.discovery)
    return JwksCache(
        client,
        source,
        ttl_seconds=settings.jwks_ttl_seconds,
        min_refresh_seconds=settings.jwks_min_refresh_seconds,
        timeout_seconds=settings.http_timeout_seconds,
        clock=monotonic,
    )


def _oidc_rules(settings: AuthSettings) -> ClaimRules:
    return ClaimRules(
        issuer=settings.issuer,
        audiences=settings.audience,
        leeway_seconds=settings.leeway_seconds,
        roles_claim=settings.roles_claim,
        tenant_claim=settings.tenant_claim,
        default_tenant=settings.default_tenant,
        method="jwt",
    )


def _dev_verifier(dev_key: DevKey, settings: AuthSettings) -> TokenVerifier:
    # Dev tokens have a fixed shape (see DevKey.mint), whatever auth.roles_claim says for the IdP.
    rules = ClaimRules(
        issuer=dev_key.issuer,
        audiences=(dev_key.settings.audience,),
        leeway_seconds=settings.leeway_seconds,
        default_tenant=settings.default_tenant,
        method="dev",
    )
    return TokenVerifier(dev_key, rules, frozenset({DEV_ALGORITHM}))
