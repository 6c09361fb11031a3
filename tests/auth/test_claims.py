"""Reading roles, tenant and email out of verified claims."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from gateway.auth.authenticator import Authenticator
from gateway.auth.claims import ClaimRules, claim_at, principal_from, roles_from
from gateway.errors import Unauthenticated
from tests.support.issuer import TokenIssuer

KEYCLOAK = {
    "sub": "u1",
    "realm_access": {"roles": ["finance", "offline_access"]},
    "resource_access": {"skein": {"roles": ["admin"]}},
    "groups": "finance analysts",
    "https://example.com/roles": ["namespaced"],
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("realm_access.roles", ["finance", "offline_access"]),
        ("resource_access.skein.roles", ["admin"]),
        ("groups", "finance analysts"),
        ("https://example.com/roles", ["namespaced"]),
        ("realm_access.missing", None),
        ("groups.deeper", None),
        ("nothing", None),
    ],
)
def test_claim_at(path: str, expected: Any) -> None:
    assert claim_at(KEYCLOAK, path) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (["a", "b"], ("a", "b")),
        ("finance", ("finance",)),
        ("finance  analyst", ("finance", "analyst")),
        (["a", 3, None, "", "b"], ("a", "b")),
        (None, ()),
        ({"a": 1}, ()),
    ],
)
def test_roles_from(value: Any, expected: tuple[str, ...]) -> None:
    assert roles_from(value) == expected


def test_tenant_and_defaults() -> None:
    rules = ClaimRules(issuer=None, audiences=(), tenant_claim="org.id", default_tenant="public")
    assert principal_from({"sub": "u", "org": {"id": "acme"}}, rules).tenant == "acme"
    assert principal_from({"sub": "u", "org": {"id": 7}}, rules).tenant == "public"
    bare = principal_from({"sub": "u", "email": ["not", "a", "string"]}, rules)
    assert (bare.tenant, bare.email, bare.roles, bare.expires_at) == ("public", None, (), None)


def test_subject_is_required() -> None:
    with pytest.raises(Unauthenticated) as caught:
        principal_from({"sub": ""}, ClaimRules(issuer=None, audiences=()))
    assert caught.value.reason == "missing_claim"


async def test_keycloak_realm_roles_end_to_end(
    token_issuer: TokenIssuer, auth_http_client: httpx.AsyncClient
) -> None:
    settings = token_issuer.auth_settings(roles_claim="realm_access.roles", tenant_claim="org")
    auth = Authenticator(settings, auth_http_client)
    token = token_issuer.mint(roles=None, realm_access={"roles": ["finance"]}, org="acme")
    principal = await auth.authenticate(f"Bearer {token}")
    assert (principal.roles, principal.tenant) == (("finance",), "acme")
