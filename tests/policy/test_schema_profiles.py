"""The sample organisation against the strict schema, and what the quickstart relies on."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.bundle.source import BundleContent
from signing.schema import SchemaError, load_catalog, load_profiles
from tests.policy.conftest import BUNDLES

SEED_ROLES = {"analyst", "developer", "finance", "hr", "legal", "manager", "marketing", "support"}


def test_every_profile_validates(sample: BundleContent) -> None:
    assert SEED_ROLES | {"auditor", "admin"} == set(sample.profiles)


def test_every_role_allows_echo(sample: BundleContent) -> None:
    for profile in sample.profiles.values():
        assert profile.models.allows("echo"), profile.role
        assert not profile.providers.allowed or "echo" in profile.providers.allowed, profile.role


def test_finance_and_legal_as_specified(sample: BundleContent) -> None:
    finance, legal = sample.profiles["finance"], sample.profiles["legal"]
    assert finance.models.allows("gpt-4o-mini") and not finance.models.allows("gpt-4o")
    assert legal.privacy.local_only and legal.models.allowed == ("llama3.2", "echo")


def test_a_downshift_rule_exists(sample: BundleContent) -> None:
    assert any(p.models.downshift for p in sample.profiles.values())


def test_unknown_key_names_file_and_key(tmp_path: Path) -> None:
    source = (BUNDLES / "profiles" / "auditor.yaml").read_text()
    (tmp_path / "auditor.yaml").write_text(source + "gooseignore: {global: hi}\n")
    catalog = load_catalog(BUNDLES / "models.yaml")
    with pytest.raises(SchemaError) as info:
        load_profiles(tmp_path, catalog)
    assert "auditor.yaml" in str(info.value) and "gooseignore: unknown key" in str(info.value)


def test_worker_tasks_need_a_worker_and_a_known_task() -> None:
    from pydantic import ValidationError

    from signing.schema import ModelRules

    rules = ModelRules.model_validate(
        {"allowed": ["*"], "worker": "gpt-4o-mini", "worker_tasks": ["summarize"]}
    )
    assert rules.worker_tasks == ("summarize",)
    with pytest.raises(ValidationError, match=r"models\.worker_tasks needs models\.worker"):
        ModelRules.model_validate({"allowed": ["*"], "worker_tasks": ["summarize"]})
    with pytest.raises(ValidationError, match="worker_tasks"):
        ModelRules.model_validate({"allowed": ["*"], "worker": "gpt-4o-mini", "worker_tasks": ["poetry"]})
