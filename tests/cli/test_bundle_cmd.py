"""``skein bundle`` and ``skein keys`` machine-readable output, and the git provenance."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from gateway.cli.common import EXIT_FAILED, EXIT_OK
from tests.cli.conftest import Run
from tests.support.server import REPO


def git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


def build(skein: Run, root: Path) -> dict[str, object]:
    code, out, err = skein(
        "bundle", "build", "--policies", str(root / "policies"), "--data", str(root / "bundles"),
        "--out", str(root / "dist" / "b.tar.gz"), "--json",
    )  # fmt: skip
    assert code == EXIT_OK, err
    result: dict[str, object] = json.loads(out)
    return result


def test_git_dirty_counts_edits_and_untracked_files_under_policies_and_bundles(
    skein: Run, tmp_path: Path
) -> None:
    for name in ("policies", "bundles"):
        shutil.copytree(REPO / name, tmp_path / name)
    (tmp_path / ".gitignore").write_text("dist/\n")
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "sources")
    clean = build(skein, tmp_path)["metadata"]
    assert isinstance(clean, dict) and clean["git_dirty"] is False and len(clean["git_commit"]) == 40

    untracked = tmp_path / "bundles" / "profiles" / "sales.yaml"
    analyst = (tmp_path / "bundles" / "profiles" / "analyst.yaml").read_text()
    untracked.write_text(analyst.replace("role: analyst", "role: sales", 1))
    assert build(skein, tmp_path)["metadata"] == {**clean, "git_dirty": True}  # a new, uncommitted profile
    untracked.unlink()

    policy = tmp_path / "policies" / "models.rego"
    policy.write_text(policy.read_text() + "\n# edited\n")
    assert build(skein, tmp_path)["metadata"] == {**clean, "git_dirty": True}  # an edit to a policy


def test_keys_sign_verify_json(skein: Run, tmp_path: Path) -> None:
    code, out, _ = skein("keys", "generate", "--out", str(tmp_path / "k"), "--json")
    key = json.loads(out)
    assert code == EXIT_OK and key["alg"] == "ES256" and key["public"].endswith("k.pub.pem")
    assert json.loads(skein("keys", "kid", key["public"], "--json")[1])["kid"] == key["kid"]
    bundle = tmp_path / "b.tar.gz"
    skein("bundle", "build", "--policies", str(REPO / "policies"), "--data", str(REPO / "bundles"),
          "--out", str(bundle), "--no-git")  # fmt: skip
    signed = json.loads(skein("bundle", "sign", str(bundle), "--key", key["private"], "--json")[1])
    assert signed["kid"] == key["kid"]
    code, out, _ = skein("bundle", "verify", str(bundle), "--pubkey", key["public"], "--json")
    verified = json.loads(out)
    assert code == EXIT_OK and verified["ok"] is True and verified["signers"][0]["kid"] == key["kid"]
    assert verified["digest"] == signed["digest"]

    other = json.loads(skein("keys", "generate", "--out", str(tmp_path / "other"), "--json")[1])
    code, out, _ = skein("bundle", "verify", str(bundle), "--pubkey", other["public"], "--json")
    refused = json.loads(out)
    assert code == EXIT_FAILED and refused["ok"] is False and refused["reason"]
