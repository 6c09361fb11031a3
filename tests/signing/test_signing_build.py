"""Building: reproducible bytes, strict validation with file and field, OPA's layout."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from signing import ContentError, SchemaError, build_bundle, read_unverified
from signing.archive import read_archive
from tests.signing.helpers import FINANCE, MANAGER, write_sources

REPO = Path(__file__).resolve().parents[2]


def test_same_sources_give_the_same_bytes(tmp_path: Path) -> None:
    first = build_bundle(*write_sources(tmp_path / "a"))
    policies, data = write_sources(tmp_path / "b")  # another path, fresh mtimes
    os.utime(policies / "decision.rego", (1, 1))
    assert build_bundle(policies, data) == first


def test_default_revision_follows_the_content(tmp_path: Path) -> None:
    policies, data = write_sources(tmp_path)
    before = read_unverified(build_bundle(policies, data)).revision
    (policies / "decision.rego").write_text((policies / "decision.rego").read_text() + "\n# edit\n")
    after = read_unverified(build_bundle(policies, data)).revision
    assert before.startswith("sha256:") and before != after


def test_manifest_has_revision_roots_and_metadata(tmp_path: Path) -> None:
    bundle = build_bundle(*write_sources(tmp_path), revision="r42", metadata={"git_commit": "abc123"})
    manifest = json.loads(read_archive(bundle)[".manifest"])
    assert manifest == {
        "revision": "r42",
        "roots": ["gateway", "gateway_test", "models", "profiles"],
        "rego_version": 1,
        "metadata": {"git_commit": "abc123"},
    }


def test_only_rego_files_are_packed_tests_included(tmp_path: Path) -> None:
    files = read_archive(build_bundle(*write_sources(tmp_path)))
    assert "decision_test.rego" in files and "README.md" not in files


def test_no_policies_is_an_error(tmp_path: Path) -> None:
    policies, data = write_sources(tmp_path)
    for rego in policies.glob("*.rego"):
        rego.unlink()
    with pytest.raises(ContentError, match=r"no \.rego files"):
        build_bundle(policies, data)


def test_module_without_package_is_an_error(tmp_path: Path) -> None:
    policies, data = write_sources(tmp_path)
    (policies / "broken.rego").write_text("allow := true\n")
    with pytest.raises(ContentError, match="no package declaration") as exc:
        build_bundle(policies, data)
    assert exc.value.file == "broken.rego"


def _invalid(tmp_path: Path, finance_yaml: str) -> str:
    policies, data = write_sources(tmp_path)
    (data / "profiles" / "finance.yaml").write_text(finance_yaml)
    with pytest.raises(SchemaError) as exc:
        build_bundle(policies, data)
    message = str(exc.value)
    assert "finance.yaml" in message
    return message


def test_unknown_key_names_file_and_field(tmp_path: Path) -> None:
    message = _invalid(tmp_path, FINANCE.replace("privacy:\n", "privacy:\n  modee: mask\n"))
    assert "privacy.modee: unknown key" in message


def test_bad_glob_names_file_and_field(tmp_path: Path) -> None:
    message = _invalid(tmp_path, FINANCE.replace('"github__create_*"', '"github__create_["'))
    assert "approvals.tools" in message and "bad glob" in message


def test_default_model_outside_the_allowlist(tmp_path: Path) -> None:
    message = _invalid(tmp_path, FINANCE.replace("default: gpt-4o-mini", "default: claude-3-5-haiku"))
    assert "models.default" in message and "models.allowed" in message


def test_unknown_provider_names_file_and_field(tmp_path: Path) -> None:
    message = _invalid(tmp_path, FINANCE.replace("allowed: [openai, ollama]", "allowed: [openai, azure]"))
    assert "providers.allowed: unknown provider 'azure'" in message


def test_allowlist_glob_matching_no_model(tmp_path: Path) -> None:
    message = _invalid(tmp_path, FINANCE.replace('"llama3.2"]', '"llama3.2", "gpt-5*"]'))
    assert "models.allowed: 'gpt-5*' matches no model" in message


def test_downshift_target_outside_the_allowlist(tmp_path: Path) -> None:
    message = _invalid(tmp_path, FINANCE.replace("to: gpt-4o-mini", "to: claude-3-5-haiku"))
    assert "models.downshift" in message


def test_unknown_approver_role(tmp_path: Path) -> None:
    policies, data = write_sources(tmp_path)
    (data / "profiles" / "manager.yaml").unlink()
    with pytest.raises(SchemaError, match=r"approvals\.approver_role: unknown role 'manager'"):
        build_bundle(policies, data)


def test_manager_fixture_is_valid() -> None:
    assert "role: manager" in MANAGER  # the fixture the cases above rely on


@pytest.mark.skipif(
    not any((REPO / "bundles" / "profiles").glob("*.yaml")) or not any((REPO / "policies").rglob("*.rego")),
    reason="the repository's policies and profiles are not written yet",
)
def test_the_repository_sources_build(tmp_path: Path) -> None:
    bundle = read_unverified(build_bundle(REPO / "policies", REPO / "bundles"))
    assert "gateway" in bundle.manifest.roots
    assert {"profiles/data.json", "models/data.json"} <= set(bundle.files)
