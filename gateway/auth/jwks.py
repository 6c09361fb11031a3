"""The issuer's JWKS, fetched over HTTP and cached.

Rules, and why:

* The key set is cached for ``jwks_ttl_seconds``; after that the next request refreshes it.
* A token whose ``kid`` is not in the cached set triggers a refresh, because that is how
  an issuer's key rotation reaches us without a restart. Refreshes are rate-limited to one
  per ``jwks_min_refresh_seconds`` so that a flood of tokens with made-up kids costs the
  issuer at most one request per interval.
* Concurrent refreshes share one fetch (one in-flight task that every caller awaits).
  The task is shielded: a client that disconnects does not cancel the fetch for the others.
* A failed fetch keeps the previous key set in use (stale but still correct for the
  tokens it knows); only with no key set at all is it ``Unavailable`` (503).
* The JWKS URL is either configured or found through OIDC discovery
  (``{issuer}/.well-known/openid-configuration``), whose ``issuer`` must match ours.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from jwt import PyJWK

from gateway.auth.keyset import KeySet
from gateway.errors import Unauthenticated, Unavailable

log = logging.getLogger(__name__)

DISCOVERY_PATH = "/.well-known/openid-configuration"


@dataclass(frozen=True, slots=True)
class JwksSource:
    """Where the keys come from: a fixed URL wins over discovery."""

    jwks_url: str | None = None
    issuer: str | None = None
    discovery: bool = True

    def __post_init__(self) -> None:
        if self.jwks_url is None and not (self.discovery and self.issuer):
            raise ValueError("auth: set auth.jwks_url, or auth.issuer with auth.discovery enabled")


class JwksCache:
    """Signing keys of one issuer; ``key_for`` is what the token verifier calls."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        source: JwksSource,
        *,
        ttl_seconds: float = 300.0,
        min_refresh_seconds: float = 10.0,
        timeout_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._source = source
        self._ttl = ttl_seconds
        self._min_refresh = min_refresh_seconds
        self._timeout = timeout_seconds
        self._clock = clock
        self._jwks_uri = source.jwks_url
        self._keys: KeySet | None = None
        self._fetched_at = -math.inf
        self._last_attempt = -math.inf
        self._inflight: asyncio.Task[KeySet] | None = None
        self.fetches = 0  # JWKS documents requested so far (for metrics and tests)

    async def key_for(self, kid: str | None, alg: str) -> PyJWK:
        """The verification key for a token's ``kid`` and ``alg`` (``Unauthenticated`` if none)."""
        keys = await self.current()
        jwk = keys.find(kid)
        if jwk is None and kid is not None and self._may_refresh():
            keys = await self._refresh_or_keep(keys)
            jwk = keys.find(kid)
        if jwk is None:
            if kid is None:
                raise Unauthenticated(
                    "token has no kid and the issuer has several keys", reason="unknown_key"
                )
            raise Unauthenticated("token is signed by an unknown key", reason="unknown_key")
        return jwk.for_alg(alg)

    async def current(self) -> KeySet:
        """The cached key set, refreshed first when it is older than the TTL."""
        keys = self._keys
        if keys is not None and self._clock() - self._fetched_at < self._ttl:
            return keys
        if keys is not None:
            # Expired: try to refresh, but a recent failure means we keep the stale set.
            return await self._refresh_or_keep(keys) if self._may_refresh() else keys
        if not self._may_refresh():
            raise Unavailable("the issuer's signing keys (JWKS) are unavailable", reason="jwks_unavailable")
        return await self._refresh()

    async def aclose(self) -> None:
        task, self._inflight = self._inflight, None
        if task is not None and not task.done():
            task.cancel()

    def _may_refresh(self) -> bool:
        return self._inflight is not None or self._clock() - self._last_attempt >= self._min_refresh

    async def _refresh_or_keep(self, keys: KeySet) -> KeySet:
        try:
            return await self._refresh()
        except Unavailable:
            return keys  # already logged; the stale set still verifies the tokens it knows

    async def _refresh(self) -> KeySet:
        task = self._inflight
        if task is None:
            self._last_attempt = self._clock()
            task = asyncio.get_running_loop().create_task(self._fetch())
            task.add_done_callback(self._fetch_done)
            self._inflight = task
        return await asyncio.shield(task)

    def _fetch_done(self, task: asyncio.Task[KeySet]) -> None:
        if self._inflight is task:
            self._inflight = None
        if not task.cancelled():
            task.exception()  # mark retrieved even when every waiter went away

    async def _fetch(self) -> KeySet:
        try:
            uri = self._jwks_uri or await self._discover()
            self.fetches += 1
            keys = KeySet.from_document(await self._get_json(uri))
        except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
            # A bad discovered URI must not stick: discover again next time.
            self._jwks_uri = self._source.jwks_url
            log.warning("JWKS refresh failed: %s", exc)
            raise Unavailable(
                "the issuer's signing keys (JWKS) cannot be fetched", reason="jwks_unavailable"
            ) from exc
        self._jwks_uri = uri
        self._keys = keys
        self._fetched_at = self._clock()
        log.info("JWKS loaded from %s: %d signing key(s)", uri, len(keys))
        return keys

    async def _discover(self) -> str:
        issuer = self._source.issuer or ""
        document = await self._get_json(issuer.rstrip("/") + DISCOVERY_PATH)
        if not isinstance(document, dict):
            raise ValueError("the OIDC discovery document is not a JSON object")
        # OIDC Discovery 1.0, section 4.3: the document must name the very issuer we asked.
        if document.get("issuer") != issuer:
            raise ValueError("the OIDC discovery document names a different issuer")
        uri = document.get("jwks_uri")
        if not isinstance(uri, str) or not uri:
            raise ValueError("the OIDC discovery document has no jwks_uri")
        return uri

    async def _get_json(self, url: str) -> object:
        response = await self._client.get(url, timeout=self._timeout, headers={"accept": "application/json"})
        response.raise_for_status()
        return response.json()
