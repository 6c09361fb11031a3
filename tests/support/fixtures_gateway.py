"""Fixtures for in-process gateway tests: a fake provider and the app behind an httpx client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.settings import Settings
from guard import Guard
from tests.support.gateway import make_settings, running_gateway
from tests.support.issuer import TokenIssuer
from tests.support.upstream import FakeProvider


@pytest.fixture(scope="session")
def fake_provider() -> Iterator[FakeProvider]:
    provider = FakeProvider().start()
    yield provider
    provider.stop()


PROVIDER_KEY = "sk-upstream-test"


@pytest.fixture
def gateway_settings(
    tmp_path: Path, token_issuer: TokenIssuer, fake_provider: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """The repository's bundle, the test issuer, every catalog provider pointing at the fake one."""
    monkeypatch.setenv("SKEIN_TEST_PROVIDER_KEY", PROVIDER_KEY)
    key = {"api_key_env": "SKEIN_TEST_PROVIDER_KEY"}
    native = {
        "base_url": fake_provider.root_url,
        "openai_path": "/v1",
        **key,
    }  # both APIs, like the real ones
    providers = {
        "openai": {"base_url": fake_provider.base_url, **key},
        "openrouter": {"base_url": fake_provider.base_url, **key},
        "anthropic": {"dialect": "anthropic", **native},
        "ollama": {"dialect": "ollama", **native},
    }
    return make_settings(
        tmp_path / "state",
        auth={"issuer": token_issuer.issuer, "audience": token_issuer.audience},
        providers=providers,
    )


@pytest.fixture
async def gateway(gateway_settings: Settings, guard: Guard) -> AsyncIterator[httpx.AsyncClient]:
    """The app with the session's shared guard (the NER model loads once per test process)."""
    async with running_gateway(gateway_settings, guard=guard) as client:
        yield client


@pytest.fixture
def bearer(token_issuer: TokenIssuer) -> Callable[..., dict[str, str]]:
    """``bearer(sub="alice", roles=["finance"])`` -> Authorization header for a real token."""

    def make(
        sub: str = "alice", roles: tuple[str, ...] | list[str] = ("finance",), **claims: Any
    ) -> dict[str, str]:
        token = token_issuer.mint(sub=sub, roles=list(roles), **claims)
        return {"authorization": f"Bearer {token}"}

    return make
