"""Pytest fixtures for identity. Register once in ``tests/conftest.py``::

    pytest_plugins = ["tests.support.fixtures_auth"]

* ``token_issuer_session``: one ``TokenIssuer`` (real HTTP JWKS + discovery) per session;
* ``token_issuer``: the same issuer, reset to its initial keys and counters for each test;
* ``issuer_auth_settings``: ``AuthSettings`` pointing at it (discovery, its audience);
* ``dev_key``: a ``DevKey`` in a temporary state directory (dev mode enabled);
* ``auth_http_client``: an ``httpx.AsyncClient`` for the JWKS fetches;
* ``authenticator``: an ``Authenticator`` wired to all of the above.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from gateway.auth.authenticator import Authenticator
from gateway.auth.devkey import DevKey
from gateway.settings import AuthSettings, DevSettings
from tests.support.issuer import TokenIssuer


@pytest.fixture(scope="session")
def token_issuer_session() -> Iterator[TokenIssuer]:
    # Keys (RSA especially) are generated once: that is most of the issuer's cost.
    with TokenIssuer() as issuer:
        yield issuer


@pytest.fixture
def token_issuer(token_issuer_session: TokenIssuer) -> TokenIssuer:
    token_issuer_session.reset()
    return token_issuer_session


@pytest.fixture
def issuer_auth_settings(token_issuer: TokenIssuer) -> AuthSettings:
    return token_issuer.auth_settings()


@pytest.fixture
def dev_key(tmp_path: Path) -> DevKey:
    return DevKey.load_or_create(tmp_path / "state", DevSettings(enabled=True))


@pytest.fixture
async def auth_http_client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
async def authenticator(
    issuer_auth_settings: AuthSettings, auth_http_client: httpx.AsyncClient, dev_key: DevKey
) -> AsyncIterator[Authenticator]:
    auth = Authenticator(issuer_auth_settings, auth_http_client, dev_key=dev_key)
    yield auth
    await auth.aclose()
