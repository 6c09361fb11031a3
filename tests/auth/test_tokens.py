"""JWT verification rules, each bad token with its stable reason code, against a real HTTP issuer."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from gateway.auth.authenticator import Authenticator
from gateway.errors import Unauthenticated
from tests.auth.helpers import reason_of
from tests.support.issuer import OMIT, TokenIssuer


def bearer(token: str) -> str:
    return f"Bearer {token}"


def make(token_issuer: TokenIssuer, client: httpx.AsyncClient, **settings: Any) -> Authenticator:
    return Authenticator(token_issuer.auth_settings(**settings), client)


@pytest.mark.parametrize("key_name", ["rsa", "ec", "ed"])
async def test_accepts_each_default_algorithm(
    authenticator: Authenticator, token_issuer: TokenIssuer, key_name: str
) -> None:
    key = getattr(token_issuer, key_name)
    token = token_issuer.mint(key=key, sub="bob", roles=["finance", "analyst"], email="bob@example.com")
    principal = await authenticator.authenticate(bearer(token))
    assert principal.sub == "bob"
    assert principal.roles == ("finance", "analyst")
    assert principal.email == "bob@example.com"
    assert principal.method == "jwt"
    assert principal.tenant == "default"
    assert principal.expires_at is not None and principal.expires_at > time.time()
    assert principal.claims["iss"] == token_issuer.issuer


async def test_alg_none_is_rejected(authenticator: Authenticator, token_issuer: TokenIssuer) -> None:
    token = token_issuer.token_alg_none()
    assert await reason_of(authenticator.authenticate(bearer(token))) == "algorithm_not_allowed"


async def test_hs256_signed_with_the_rsa_public_key_is_rejected(
    authenticator: Authenticator, token_issuer: TokenIssuer
) -> None:
    token = token_issuer.token_hs256_with_public_key()
    assert await reason_of(authenticator.authenticate(bearer(token))) == "algorithm_not_allowed"


async def test_hs256_stays_rejected_against_an_rsa_key_even_when_allowed(
    token_issuer: TokenIssuer, auth_http_client: httpx.AsyncClient
) -> None:
    # HS256 is configured, but the kid points at an RSA key: no key confusion.
    auth = make(token_issuer, auth_http_client, algorithms=("RS256", "HS256"))
    token = token_issuer.token_hs256_with_public_key()
    assert await reason_of(auth.authenticate(bearer(token))) == "algorithm_not_allowed"


async def test_algorithm_not_in_the_configured_list(
    token_issuer: TokenIssuer, auth_http_client: httpx.AsyncClient
) -> None:
    auth = make(token_issuer, auth_http_client, algorithms=("RS256", "ES256"))
    token = token_issuer.mint(key=token_issuer.ed)
    assert await reason_of(auth.authenticate(bearer(token))) == "algorithm_not_allowed"


async def test_header_alg_must_match_the_key_type(
    authenticator: Authenticator, token_issuer: TokenIssuer
) -> None:
    # Signed with the EC key but claims the kid of the RSA key.
    token = token_issuer.mint(key=token_issuer.ec, kid=token_issuer.rsa.kid)
    assert await reason_of(authenticator.authenticate(bearer(token))) == "algorithm_not_allowed"


async def test_unknown_key(authenticator: Authenticator, token_issuer: TokenIssuer) -> None:
    token = token_issuer.token_unknown_key()
    assert await reason_of(authenticator.authenticate(bearer(token))) == "unknown_key"


async def test_signature_by_another_key_under_a_known_kid(
    authenticator: Authenticator, token_issuer: TokenIssuer
) -> None:
    token = token_issuer.mint(key=token_issuer.stranger, kid=token_issuer.ec.kid)
    assert await reason_of(authenticator.authenticate(bearer(token))) == "invalid_signature"


async def test_tampered_payload(authenticator: Authenticator, token_issuer: TokenIssuer) -> None:
    token = token_issuer.token_tampered()
    assert await reason_of(authenticator.authenticate(bearer(token))) == "invalid_signature"


async def test_expired(authenticator: Authenticator, token_issuer: TokenIssuer) -> None:
    token = token_issuer.token_expired()
    assert await reason_of(authenticator.authenticate(bearer(token))) == "token_expired"


async def test_expiry_leeway(token_issuer: TokenIssuer, auth_http_client: httpx.AsyncClient) -> None:
    auth = make(token_issuer, auth_http_client, leeway_seconds=30)
    await auth.authenticate(bearer(token_issuer.token_expired(seconds_ago=10)))
    late = token_issuer.token_expired(seconds_ago=60)
    assert await reason_of(auth.authenticate(bearer(late))) == "token_expired"


async def test_not_yet_valid_and_leeway(
    token_issuer: TokenIssuer, auth_http_client: httpx.AsyncClient
) -> None:
    now = int(time.time())
    strict = make(token_issuer, auth_http_client, leeway_seconds=0)
    lenient = make(token_issuer, auth_http_client, leeway_seconds=30)
    soon = token_issuer.mint(nbf=now + 10)
    assert await reason_of(strict.authenticate(bearer(soon))) == "token_not_yet_valid"
    assert (await lenient.authenticate(bearer(soon))).sub == "alice"
    later = token_issuer.mint(nbf=now + 120)
    assert await reason_of(lenient.authenticate(bearer(later))) == "token_not_yet_valid"


async def test_wrong_issuer(authenticator: Authenticator, token_issuer: TokenIssuer) -> None:
    token = token_issuer.mint(iss="https://evil.example.com/realms/skein")
    assert await reason_of(authenticator.authenticate(bearer(token))) == "wrong_issuer"


async def test_wrong_audience(authenticator: Authenticator, token_issuer: TokenIssuer) -> None:
    token = token_issuer.token_wrong_audience()
    assert await reason_of(authenticator.authenticate(bearer(token))) == "wrong_audience"


async def test_any_configured_audience_matches(
    token_issuer: TokenIssuer, auth_http_client: httpx.AsyncClient
) -> None:
    auth = make(token_issuer, auth_http_client, audience=("other", "skein-test"))
    token = token_issuer.mint(aud=["account", "skein-test"])
    assert (await auth.authenticate(bearer(token))).sub == "alice"


@pytest.mark.parametrize("claim", ["aud", "exp", "sub", "iss"])
async def test_missing_claim(authenticator: Authenticator, token_issuer: TokenIssuer, claim: str) -> None:
    token = token_issuer.mint(**{claim: OMIT})
    assert await reason_of(authenticator.authenticate(bearer(token))) == "missing_claim"


@pytest.mark.parametrize(
    "token",
    [
        "a.b.c",
        "!!!.e30.sig",
        "W10.e30.sig",  # header is a JSON array
        "e30.W10.sig",  # claims are a JSON array
        "é.e30.sig",
    ],
)
async def test_malformed(authenticator: Authenticator, token: str) -> None:
    assert await reason_of(authenticator.authenticate(bearer(token))) == "malformed_token"


async def test_kid_must_be_a_string(authenticator: Authenticator, token_issuer: TokenIssuer) -> None:
    token = token_issuer.sign_raw({"alg": "RS256", "kid": 7}, token_issuer.claims())
    assert await reason_of(authenticator.authenticate(bearer(token))) == "malformed_token"


async def test_kid_required_when_the_issuer_has_several_keys(
    authenticator: Authenticator, token_issuer: TokenIssuer
) -> None:
    token = token_issuer.mint(kid=None)
    assert await reason_of(authenticator.authenticate(bearer(token))) == "unknown_key"


async def test_no_kid_is_fine_with_a_single_signing_key(
    authenticator: Authenticator, token_issuer: TokenIssuer
) -> None:
    token_issuer.publish(token_issuer.ec, replace=True)
    # Keycloak-style: an encryption key beside the signing key does not count.
    enc = {**token_issuer.rsa.public_jwk(), "kid": "enc-1", "use": "enc", "alg": "RSA-OAEP"}
    token_issuer.extra_jwks_entries.append(enc)
    token = token_issuer.mint(key=token_issuer.ec, kid=None)
    assert (await authenticator.authenticate(bearer(token))).sub == "alice"


async def test_without_configured_issuer_iss_is_not_checked(
    token_issuer: TokenIssuer, auth_http_client: httpx.AsyncClient
) -> None:
    auth = make(token_issuer, auth_http_client, issuer=None, jwks_url=token_issuer.jwks_url)
    token = token_issuer.mint(iss="anything")
    assert (await auth.authenticate(bearer(token))).sub == "alice"


async def test_error_messages_never_echo_the_token(
    authenticator: Authenticator, token_issuer: TokenIssuer
) -> None:
    token = token_issuer.sign_raw({"alg": 'x"evil', "kid": "rsa-1"}, token_issuer.claims())
    with pytest.raises(Unauthenticated) as caught:
        await authenticator.authenticate(bearer(token))
    assert caught.value.reason == "algorithm_not_allowed"
    assert "evil" not in caught.value.message and token not in str(caught.value.headers)


async def test_issued_in_the_future(authenticator: Authenticator, token_issuer: TokenIssuer) -> None:
    token = token_issuer.mint(iat=int(time.time()) + 3600)
    assert await reason_of(authenticator.authenticate(bearer(token))) == "token_not_yet_valid"


def _far_future() -> int:
    return int(time.time()) + 3600


@pytest.mark.parametrize(
    ("claim", "value"),
    [
        ("exp", lambda: str(_far_future())),  # finding 6: a string exp was accepted
        ("exp", lambda: True),  # a bool is an int to Python, never a NumericDate
        ("exp", lambda: [_far_future()]),
        ("nbf", lambda: str(int(time.time()) - 60)),
        ("iat", lambda: str(int(time.time()))),
        ("iat", lambda: False),
    ],
)
async def test_time_claims_must_be_numbers(
    authenticator: Authenticator, token_issuer: TokenIssuer, claim: str, value: Any
) -> None:
    # A real signature from the issuer: only the claim's JSON type is wrong.
    token = token_issuer.mint(**{claim: value()})
    assert await reason_of(authenticator.authenticate(bearer(token))) == "malformed_token"


async def test_float_time_claims_are_numeric_dates(
    authenticator: Authenticator, token_issuer: TokenIssuer
) -> None:
    now = time.time()
    token = token_issuer.mint(exp=now + 3600.5, nbf=now - 1.5, iat=now - 0.5)
    assert (await authenticator.authenticate(bearer(token))).sub == "alice"
