"""Service-account API keys: hashing, generation, lookup, and through the authenticator."""

from __future__ import annotations

import hashlib

import pytest

from gateway.auth.apikeys import API_KEY_PREFIX, ApiKeyStore, hash_api_key, new_api_key
from gateway.auth.authenticator import Authenticator
from gateway.settings import ApiKey, AuthSettings
from tests.auth.helpers import reason_of

KEY = "sk-skein-test-key-0123456789"


def entry(key: str = KEY, name: str = "svc", **fields: object) -> ApiKey:
    return ApiKey.model_validate(
        {"name": name, "sha256": hash_api_key(key), "sub": "svc-bot", "roles": ["analyst"]} | fields
    )


def test_hash_is_sha256_hex() -> None:
    assert hash_api_key(KEY) == hashlib.sha256(KEY.encode()).hexdigest()


def test_new_keys_are_prefixed_random_and_long() -> None:
    keys = {new_api_key() for _ in range(50)}
    assert len(keys) == 50
    assert all(key.startswith(API_KEY_PREFIX) and len(key) >= len(API_KEY_PREFIX) + 43 for key in keys)


def test_lookup() -> None:
    store = ApiKeyStore([entry(tenant="acme")])
    principal = store.lookup(KEY)
    assert principal is not None
    assert (principal.sub, principal.roles, principal.tenant, principal.method) == (
        "svc-bot",
        ("analyst",),
        "acme",
        "api_key",
    )
    assert store.lookup(KEY + "x") is None
    assert store.lookup(hash_api_key(KEY)) is None  # the stored hash is not itself a key


def test_duplicate_keys_are_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="'b'"):
        ApiKeyStore([entry(name="a"), entry(name="b")])


async def test_through_the_authenticator() -> None:
    auth = Authenticator(AuthSettings(api_keys=(entry(),)), None)
    assert (await auth.authenticate(f"Bearer {KEY}")).method == "api_key"
    assert (await auth.authenticate(None, KEY)).sub == "svc-bot"  # Anthropic-style x-api-key
    assert await reason_of(auth.authenticate("Bearer sk-skein-wrong")) == "invalid_api_key"
    assert await reason_of(auth.authenticate(None, "nope")) == "invalid_api_key"
