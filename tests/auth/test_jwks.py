"""The JWKS cache: discovery, TTL, rotation through an unknown kid, rate limit, coalescing, failures."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from gateway.auth.jwks import JwksCache, JwksSource
from gateway.errors import Unavailable
from tests.auth.helpers import FakeClock, reason_of
from tests.support.issuer import TokenIssuer


def cache_for(
    issuer: TokenIssuer,
    client: httpx.AsyncClient,
    clock: FakeClock,
    *,
    discovery: bool = True,
    ttl: float = 300,
    min_refresh: float = 10,
) -> JwksCache:
    source = (
        JwksSource(issuer=issuer.issuer)
        if discovery
        else JwksSource(jwks_url=issuer.jwks_url, issuer=issuer.issuer, discovery=False)
    )
    return JwksCache(client, source, ttl_seconds=ttl, min_refresh_seconds=min_refresh, clock=clock)


async def test_discovery_then_cached(
    token_issuer: TokenIssuer, auth_http_client: httpx.AsyncClient, clock: FakeClock
) -> None:
    cache = cache_for(token_issuer, auth_http_client, clock)
    key = await cache.key_for("rsa-1", "RS256")
    assert key.algorithm_name == "RS256"
    await cache.key_for("ec-1", "ES256")
    await cache.key_for("ed-1", "EdDSA")
    assert (token_issuer.discovery_fetches, token_issuer.jwks_fetches) == (1, 1)
    assert cache.fetches == 1


async def test_configured_url_skips_discovery(
    token_issuer: TokenIssuer, auth_http_client: httpx.AsyncClient, clock: FakeClock
) -> None:
    cache = cache_for(token_issuer, auth_http_client, clock, discovery=False)
    await cache.key_for("ec-1", "ES256")
    assert (token_issuer.discovery_fetches, token_issuer.jwks_fetches) == (0, 1)


async def test_refreshed_after_the_ttl(
    token_issuer: TokenIssuer, auth_http_client: httpx.AsyncClient, clock: FakeClock
) -> None:
    cache = cache_for(token_issuer, auth_http_client, clock, ttl=60)
    await cache.key_for("ec-1", "ES256")
    clock.advance(59)
    await cache.key_for("ec-1", "ES256")
    assert token_issuer.jwks_fetches == 1
    clock.advance(2)
    await cache.key_for("ec-1", "ES256")
    assert token_issuer.jwks_fetches == 2
    assert token_issuer.discovery_fetches == 1  # the discovered URI is kept


async def test_rotation_through_an_unknown_kid(
    token_issuer: TokenIssuer, auth_http_client: httpx.AsyncClient, clock: FakeClock
) -> None:
    cache = cache_for(token_issuer, auth_http_client, clock)
    await cache.key_for("ec-1", "ES256")
    clock.advance(10)
    new = token_issuer.rotate("ES256", retire=True)
    key = await cache.key_for(new.kid, "ES256")
    assert key.key_id == new.kid
    assert token_issuer.jwks_fetches == 2


async def test_unknown_kids_refresh_at_most_once_per_interval(
    token_issuer: TokenIssuer, auth_http_client: httpx.AsyncClient, clock: FakeClock
) -> None:
    cache = cache_for(token_issuer, auth_http_client, clock, min_refresh=60)
    await cache.key_for("ec-1", "ES256")
    clock.advance(60)
    for n in range(20):  # a flood of made-up kids
        assert await reason_of(cache.key_for(f"bogus-{n}", "ES256")) == "unknown_key"
    assert token_issuer.jwks_fetches == 2  # the initial load plus one refresh
    clock.advance(59)
    assert await reason_of(cache.key_for("bogus", "ES256")) == "unknown_key"
    assert token_issuer.jwks_fetches == 2
    clock.advance(1)
    assert await reason_of(cache.key_for("bogus", "ES256")) == "unknown_key"
    assert token_issuer.jwks_fetches == 3


async def test_a_rotated_key_waits_for_the_rate_limit(
    token_issuer: TokenIssuer, auth_http_client: httpx.AsyncClient, clock: FakeClock
) -> None:
    cache = cache_for(token_issuer, auth_http_client, clock, min_refresh=30)
    await cache.key_for("ec-1", "ES256")
    new = token_issuer.rotate()
    assert await reason_of(cache.key_for(new.kid, "ES256")) == "unknown_key"
    clock.advance(30)
    assert (await cache.key_for(new.kid, "ES256")).key_id == new.kid


async def test_concurrent_first_loads_share_one_fetch(
    token_issuer: TokenIssuer, auth_http_client: httpx.AsyncClient, clock: FakeClock
) -> None:
    cache = cache_for(token_issuer, auth_http_client, clock, discovery=False)
    token_issuer.jwks_delay = 0.1
    await asyncio.gather(*(cache.key_for("ec-1", "ES256") for _ in range(25)))
    assert token_issuer.jwks_fetches == 1


async def test_concurrent_unknown_kid_refreshes_share_one_fetch(
    token_issuer: TokenIssuer, auth_http_client: httpx.AsyncClient, clock: FakeClock
) -> None:
    cache = cache_for(token_issuer, auth_http_client, clock, discovery=False, min_refresh=0)
    await cache.key_for("ec-1", "ES256")
    new = token_issuer.rotate()
    token_issuer.jwks_delay = 0.1
    keys = await asyncio.gather(*(cache.key_for(new.kid, "ES256") for _ in range(25)))
    assert {key.key_id for key in keys} == {new.kid}
    assert token_issuer.jwks_fetches == 2


async def test_a_cancelled_waiter_does_not_cancel_the_shared_fetch(
    token_issuer: TokenIssuer, auth_http_client: httpx.AsyncClient, clock: FakeClock
) -> None:
    cache = cache_for(token_issuer, auth_http_client, clock, discovery=False)
    token_issuer.jwks_delay = 0.1
    first = asyncio.create_task(cache.key_for("ec-1", "ES256"))
    await asyncio.sleep(0.02)
    second = asyncio.create_task(cache.key_for("ec-1", "ES256"))
    await asyncio.sleep(0)
    first.cancel()
    assert (await second).key_id == "ec-1"
    assert token_issuer.jwks_fetches == 1


async def test_unreachable_without_a_cached_set_is_unavailable(
    token_issuer: TokenIssuer, auth_http_client: httpx.AsyncClient, clock: FakeClock
) -> None:
    token_issuer.jwks_status = 500
    cache = cache_for(token_issuer, auth_http_client, clock, discovery=False)
    with pytest.raises(Unavailable) as caught:
        await cache.key_for("ec-1", "ES256")
    assert caught.value.reason == "jwks_unavailable"
    # Failing again right away does not hit the issuer again.
    assert await reason_of(cache.key_for("ec-1", "ES256")) == "jwks_unavailable"
    assert token_issuer.jwks_fetches == 1
    token_issuer.jwks_status = 200
    clock.advance(10)
    assert (await cache.key_for("ec-1", "ES256")).key_id == "ec-1"


async def test_unreachable_with_a_cached_set_serves_the_stale_one(
    token_issuer: TokenIssuer, auth_http_client: httpx.AsyncClient, clock: FakeClock
) -> None:
    cache = cache_for(token_issuer, auth_http_client, clock, discovery=False, ttl=60)
    await cache.key_for("ec-1", "ES256")
    token_issuer.jwks_status = 503
    clock.advance(61)
    assert (await cache.key_for("ec-1", "ES256")).key_id == "ec-1"
    assert (await cache.key_for("rsa-1", "RS256")).key_id == "rsa-1"
    assert token_issuer.jwks_fetches == 2  # one failed attempt, then rate-limited


async def test_issuer_closed_port_is_unavailable(
    auth_http_client: httpx.AsyncClient, clock: FakeClock
) -> None:
    cache = JwksCache(auth_http_client, JwksSource(jwks_url="http://127.0.0.1:9/jwks"), clock=clock)
    assert await reason_of(cache.key_for("k", "RS256")) == "jwks_unavailable"


async def test_discovery_must_name_our_issuer(
    token_issuer: TokenIssuer, auth_http_client: httpx.AsyncClient, clock: FakeClock
) -> None:
    token_issuer.discovery_issuer = "https://evil.example.com"
    cache = cache_for(token_issuer, auth_http_client, clock)
    assert await reason_of(cache.key_for("ec-1", "ES256")) == "jwks_unavailable"
    assert token_issuer.jwks_fetches == 0


async def test_a_jwks_without_signing_keys_is_unavailable(
    token_issuer: TokenIssuer, auth_http_client: httpx.AsyncClient, clock: FakeClock
) -> None:
    token_issuer.publish(replace=True)
    token_issuer.extra_jwks_entries.append({**token_issuer.rsa.public_jwk(), "use": "enc"})
    cache = cache_for(token_issuer, auth_http_client, clock, discovery=False)
    assert await reason_of(cache.key_for("rsa-1", "RS256")) == "jwks_unavailable"


def test_a_source_is_required() -> None:
    with pytest.raises(ValueError, match="jwks_url"):
        JwksSource(issuer=None)
    with pytest.raises(ValueError, match="jwks_url"):
        JwksSource(issuer="https://idp.example.com", discovery=False)


async def test_aclose_cancels_an_inflight_fetch(
    token_issuer: TokenIssuer, auth_http_client: httpx.AsyncClient, clock: FakeClock
) -> None:
    cache = cache_for(token_issuer, auth_http_client, clock, discovery=False)
    token_issuer.jwks_delay = 0.2
    waiter = asyncio.create_task(cache.key_for("ec-1", "ES256"))
    await asyncio.sleep(0.02)
    await cache.aclose()
    with pytest.raises(asyncio.CancelledError):
        await waiter


async def test_a_broken_jwks_uri_from_discovery(
    token_issuer: TokenIssuer,
    auth_http_client: httpx.AsyncClient,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(token_issuer, "jwks_url", "not a url")
    cache = cache_for(token_issuer, auth_http_client, clock)
    assert await reason_of(cache.key_for("ec-1", "ES256")) == "jwks_unavailable"
    # The bad URI is not kept: the next attempt (after the interval) discovers again.
    monkeypatch.undo()
    clock.advance(10)
    assert (await cache.key_for("ec-1", "ES256")).key_id == "ec-1"
    assert token_issuer.discovery_fetches == 2
