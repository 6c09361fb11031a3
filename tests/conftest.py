"""Shared fixtures: the token issuer (real JWKS over HTTP), the fake provider, the gateway."""

from __future__ import annotations

pytest_plugins = [
    "tests.support.fixtures_auth",
    "tests.support.fixtures_guard",
    "tests.support.fixtures_gateway",
    "tests.support.services",
]
