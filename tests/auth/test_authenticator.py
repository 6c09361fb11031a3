"""The authenticate stage: header parsing, routing by issuer, the verification cache."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from gateway.auth.authenticator import Authenticator
from gateway.auth.devkey import DevKey
from gateway.settings import AuthSettings, DevSettings, Settings
from tests.auth.helpers import FakeClock, reason_of
from tests.support.issuer import TokenIssuer


@pytest.mark.parametrize("header", [None, "", "   ", "Bearer", "Bearer    "])
async def test_missing_credentials(authenticator: Authenticator, header: str | None) -> None:
    assert await reason_of(authenticator.authenticate(header)) == "missing_credentials"


async def test_other_schemes_are_refused(authenticator: Authenticator) -> None:
    assert await reason_of(authenticator.authenticate("Basic YWxpY2U6c2VjcmV0")) == "malformed_token"


async def test_scheme_is_case_insensitive_and_x_api_key_carries_jwts_too(
    authenticator: Authenticator, token_issuer: TokenIssuer
) -> None:
    token = token_issuer.mint()
    assert (await authenticator.authenticate(f"bearer  {token} ")).sub == "alice"
    assert (await authenticator.authenticate(None, token)).sub == "alice"


async def test_authorization_wins_over_x_api_key(
    authenticator: Authenticator, token_issuer: TokenIssuer
) -> None:
    token = token_issuer.mint(sub="from-authorization")
    other = token_issuer.mint(sub="from-x-api-key")
    assert (await authenticator.authenticate(f"Bearer {token}", other)).sub == "from-authorization"


async def test_dev_tokens_are_verified_in_process(
    authenticator: Authenticator, dev_key: DevKey, token_issuer: TokenIssuer
) -> None:
    token = dev_key.mint("alice", ["finance"], tenant="acme", ttl=60)
    principal = await authenticator.authenticate(f"Bearer {token}")
    assert (principal.sub, principal.roles, principal.tenant, principal.method) == (
        "alice",
        ("finance",),
        "acme",
        "dev",
    )
    assert token_issuer.jwks_fetches == 0 and token_issuer.discovery_fetches == 0


async def test_unknown_issuer(authenticator: Authenticator, token_issuer: TokenIssuer) -> None:
    token = token_issuer.mint(iss="skein-dev-but-not-quite")
    assert await reason_of(authenticator.authenticate(f"Bearer {token}")) == "wrong_issuer"


async def test_dev_only_gateway_rejects_other_issuers(dev_key: DevKey, token_issuer: TokenIssuer) -> None:
    auth = Authenticator(AuthSettings(), None, dev_key=dev_key)
    assert (await auth.authenticate(f"Bearer {dev_key.mint('bob', ['analyst'])}")).sub == "bob"
    assert await reason_of(auth.authenticate(f"Bearer {token_issuer.mint()}")) == "wrong_issuer"


async def test_jwks_outage_is_503(token_issuer: TokenIssuer, auth_http_client: httpx.AsyncClient) -> None:
    token_issuer.jwks_status = 500
    auth = Authenticator(token_issuer.auth_settings(), auth_http_client)
    assert await reason_of(auth.authenticate(f"Bearer {token_issuer.mint()}")) == "jwks_unavailable"


async def test_a_repeated_token_is_verified_once(
    authenticator: Authenticator, token_issuer: TokenIssuer
) -> None:
    token = token_issuer.mint()
    first = await authenticator.authenticate(f"Bearer {token}")
    second = await authenticator.authenticate(f"Bearer {token}")
    assert second is first
    assert authenticator.cached_tokens == 1


async def test_cache_entries_end_at_exp(
    token_issuer: TokenIssuer, auth_http_client: httpx.AsyncClient, clock: FakeClock
) -> None:
    clock.now = time.time()
    auth = Authenticator(token_issuer.auth_settings(), auth_http_client, clock=clock)
    token = token_issuer.mint(exp=int(clock.now) + 100)
    first = await auth.authenticate(f"Bearer {token}")
    clock.advance(50)
    assert await auth.authenticate(f"Bearer {token}") is first
    clock.advance(51)  # past exp for the cache; the real verification decides again
    assert await auth.authenticate(f"Bearer {token}") is not first


async def test_cache_is_bounded(token_issuer: TokenIssuer, auth_http_client: httpx.AsyncClient) -> None:
    auth = Authenticator(token_issuer.auth_settings(), auth_http_client, cache_size=2)
    tokens = [token_issuer.mint(sub=f"user-{n}") for n in range(3)]
    first = await auth.authenticate(f"Bearer {tokens[0]}")
    await auth.authenticate(f"Bearer {tokens[1]}")
    assert await auth.authenticate(f"Bearer {tokens[0]}") is first  # refreshes its recency
    await auth.authenticate(f"Bearer {tokens[2]}")  # evicts tokens[1], the least recent
    assert auth.cached_tokens == 2
    assert await auth.authenticate(f"Bearer {tokens[0]}") is first


async def test_cache_can_be_disabled(token_issuer: TokenIssuer, auth_http_client: httpx.AsyncClient) -> None:
    auth = Authenticator(token_issuer.auth_settings(), auth_http_client, cache_size=0)
    token = token_issuer.mint()
    assert await auth.authenticate(f"Bearer {token}") is not await auth.authenticate(f"Bearer {token}")


async def test_failures_are_not_cached(
    token_issuer: TokenIssuer, auth_http_client: httpx.AsyncClient
) -> None:
    auth = Authenticator(token_issuer.auth_settings(jwks_min_refresh_seconds=0), auth_http_client)
    expired = token_issuer.token_expired()
    for _ in range(2):
        assert await reason_of(auth.authenticate(f"Bearer {expired}")) == "token_expired"
    # Unknown now, known after the issuer publishes the key: the earlier failure does not stick.
    token = token_issuer.token_unknown_key()
    assert await reason_of(auth.authenticate(f"Bearer {token}")) == "unknown_key"
    token_issuer.publish(token_issuer.stranger)
    assert (await auth.authenticate(f"Bearer {token}")).sub == "alice"
    assert auth.cached_tokens == 1


def test_configuration_errors_fail_at_construction(token_issuer: TokenIssuer) -> None:
    with pytest.raises(ValueError, match="HTTP client"):
        Authenticator(token_issuer.auth_settings(), None)
    with pytest.raises(ValueError, match="RS265"):
        Authenticator(token_issuer.auth_settings(algorithms=("RS265",)), httpx.AsyncClient())


async def test_from_settings_creates_the_dev_key_in_dev_mode(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path, dev=DevSettings(enabled=True))
    auth = Authenticator.from_settings(settings, None)
    jwks = auth.dev_jwks()
    assert jwks is not None and jwks["keys"]
    assert (tmp_path / "dev-signing-key.pem").exists()
    off = Authenticator.from_settings(Settings(state_dir=tmp_path / "off"), None)
    assert off.dev_jwks() is None and not (tmp_path / "off").exists()
    await auth.aclose()
