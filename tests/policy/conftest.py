"""Fixtures for the policy tests: the sample organisation, compiled once per module."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gateway.bundle.source import BundleContent, DirectorySource
from gateway.policy.embedded import EmbeddedEngine
from gateway.policy.rego_data import bundle_data

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ROOT / "policies"
BUNDLES = ROOT / "bundles"

# A profile with every field, as the pydantic dump gives it; tests override parts.
FIXTURE_PROFILE: dict[str, Any] = {
    "role": "x",
    "display_name": "X",
    "description": "",
    "models": {
        "allowed": ["*"],
        "default": None,
        "lead": None,
        "worker": None,
        "max_tokens": None,
        "downshift": [],
        "worker_tasks": [],
    },
    "providers": {"allowed": [], "forbidden": []},
    "extensions": [],
    "tools": {"allow": [], "deny": []},
    "privacy": {
        "mode": "off",
        "entities": [],
        "local_only": False,
        "fail_open": False,
        "patterns": [],
        "allow_terms": [],
    },
    "budgets": {"daily_usd": None, "monthly_usd": None, "daily_tokens": None},
    "rate_limits": {"requests_per_minute": None, "tokens_per_minute": None},
    "approvals": {"tools": [], "approver_role": None},
}


@pytest.fixture(scope="session")
def sample() -> BundleContent:
    return DirectorySource(POLICIES, BUNDLES).read()


@pytest.fixture(scope="session")
def sample_data(sample: BundleContent) -> dict[str, Any]:
    return bundle_data(sample.catalog, sample.profiles)


@pytest.fixture(scope="session")
def engine(sample: BundleContent, sample_data: dict[str, Any]) -> EmbeddedEngine:
    return EmbeddedEngine(sample.policies, sample_data, cache_size=0)


@pytest.fixture(scope="session")
def fixture_engine(sample: BundleContent, sample_data: dict[str, Any]) -> Callable[..., EmbeddedEngine]:
    """An engine over the sample catalog with one fixture role ``x`` (parts overridden)."""

    def make(**parts: dict[str, Any]) -> EmbeddedEngine:
        profile = {
            key: {**value, **parts.get(key, {})} if isinstance(value, dict) else value
            for key, value in FIXTURE_PROFILE.items()
        }
        data = {"profiles": {"x": profile}, "models": sample_data["models"]}
        return EmbeddedEngine(sample.policies, data, cache_size=0)

    return make


def chat(roles: list[str], model: str, **extra: Any) -> dict[str, Any]:
    return {
        "principal": {"sub": "alice", "roles": roles},
        "action": "chat",
        "resource": {"model": model},
        **extra,
    }
