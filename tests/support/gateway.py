"""Run the real gateway app in-process (lifespan included) behind an httpx client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from starlette.types import Receive, Scope, Send

from gateway.app import create_app
from gateway.settings import Settings
from guard import Guard

REPO = Path(__file__).resolve().parents[2]


def make_settings(state_dir: Path, **overrides: Any) -> Settings:
    """Settings for tests: the repository's policies and profiles, state in a temp dir."""
    base: dict[str, Any] = {
        "state_dir": state_dir,
        # The unsigned source tree: verification must be off for it (tests/bundle covers the
        # signed sources).
        "bundle": {"policies_dir": REPO / "policies", "profiles_dir": REPO / "bundles", "verify": False},
    }
    return Settings.model_validate(_merge(base, overrides))


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


@asynccontextmanager
async def running_gateway(settings: Settings, guard: Guard | None = None) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan running, as a server would run it; yields a client for it."""
    app = create_app(settings, guard=guard)
    async with app.app.router.lifespan_context(app.app) as state:

        async def with_state(scope: Scope, receive: Receive, send: Send) -> None:
            scope["state"] = dict(state or {})  # what uvicorn does with lifespan state
            await app(scope, receive, send)

        transport = httpx.ASGITransport(app=with_state)
        async with httpx.AsyncClient(transport=transport, base_url="http://skein.test") as client:
            client.app_state = state  # type: ignore[attr-defined]
            yield client
