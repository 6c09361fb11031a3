"""From verified claims to a ``Principal``: where roles, tenant and email live in a token.

Issuers disagree on where roles go, so the claim is a configurable path:

* Keycloak realm roles: ``realm_access.roles``; client roles: ``resource_access.<client>.roles``
* groups (Okta, Azure AD, Keycloak's group mapper): ``groups``
* a flat claim: ``roles``
* a namespaced claim (Auth0): ``https://example.com/roles``; a path is first tried as one
  literal key, so URLs with dots work without escaping.

A list claim keeps its string items; a string claim is split on whitespace (the OAuth
``scope`` convention, and a single role is just a one-word string).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway.domain import AuthMethod, Principal
from gateway.errors import Unauthenticated

_MISSING = object()


@dataclass(frozen=True, slots=True)
class ClaimRules:
    """What a verifier checks and how it reads the principal out of the claims."""

    issuer: str | None
    audiences: tuple[str, ...]
    leeway_seconds: float = 30.0
    roles_claim: str = "roles"
    tenant_claim: str = "tenant"
    default_tenant: str = "default"
    method: AuthMethod = "jwt"


def claim_at(claims: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path, or ``None``; a literal key with dots wins over the walk."""
    if path in claims:
        return claims[path]
    node: Any = claims
    for part in path.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part, _MISSING)
        if node is _MISSING:
            return None
    return node


def roles_from(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(value.split())
    if isinstance(value, list | tuple):
        return tuple(item for item in value if isinstance(item, str) and item)
    return ()


def principal_from(claims: dict[str, Any], rules: ClaimRules) -> Principal:
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise Unauthenticated("token has no subject (sub)", reason="missing_claim")
    tenant = claim_at(claims, rules.tenant_claim)
    email = claims.get("email")
    exp = claims.get("exp")
    return Principal(
        sub=sub,
        roles=roles_from(claim_at(claims, rules.roles_claim)),
        tenant=tenant if isinstance(tenant, str) and tenant else rules.default_tenant,
        email=email if isinstance(email, str) else None,
        method=rules.method,
        claims=claims,
        expires_at=float(exp) if isinstance(exp, int | float) else None,
    )
