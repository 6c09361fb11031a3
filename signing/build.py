"""``build``: policies and validated profile data into a reproducible OPA bundle.

Layout (paths inside the tar, written with OPA's leading ``/``)::

    /.manifest            {"revision", "roots", "rego_version": 1, "metadata": {...}}
    /profiles/data.json   {role: profile}          -> data.profiles
    /models/data.json     {"providers", "models"}  -> data.models
    /<path>.rego          every *.rego under the policies directory, tests included

Test files (``*_test.rego``) are packed like any other module, as ``opa build`` does; their
packages are covered by the roots because roots are derived from the packages found. The
same sources give the same bytes: members are sorted, JSON is written with sorted keys,
the tar and gzip headers carry no time, owner or path, and the default revision is a
digest of the content rather than a timestamp.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from signing.archive import normalize_name, write_archive
from signing.canonical import file_digest
from signing.errors import ContentError, UnsafePath
from signing.manifest import MANIFEST, Manifest, check_layout, check_roots_disjoint, rego_package
from signing.schema import Catalog, RoleProfile, load_catalog, load_profiles

PROFILES_DATA = "profiles/data.json"
MODELS_DATA = "models/data.json"
DATA_ROOTS = ("profiles", "models")
CATALOG_FILE = "models.yaml"
PROFILES_DIR = "profiles"


def build_bundle(
    policies_dir: Path,
    data_dir: Path,
    *,
    revision: str | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> bytes:
    """Validate the sources and return the bundle bytes (raises ``SchemaError``/``BundleError``)."""
    catalog = load_catalog(data_dir / CATALOG_FILE)
    profiles = load_profiles(data_dir / PROFILES_DIR, catalog)
    files = collect_policies(policies_dir)
    _check_engine_support(files)
    files.update(data_files(profiles, catalog))
    roots = derive_roots(files)
    manifest = Manifest(revision or content_revision(files), roots, dict(metadata or {}), rego_version=1)
    files[MANIFEST] = json_bytes(manifest.to_json())
    check_layout(files, manifest)
    return write_archive(files)


def _check_engine_support(files: Mapping[str, bytes]) -> None:
    """Refuse a call of a builtin the embedded engine lacks, here rather than at a request."""
    # Imported here: signing.engine imports this module's data-file names.
    from signing.builtins import check_builtins

    modules = {}
    for name, content in files.items():
        try:
            modules[name] = content.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ContentError("Rego source is not UTF-8", file=name) from exc
    check_builtins(modules)


def collect_policies(policies_dir: Path) -> dict[str, bytes]:
    """Every ``*.rego`` file under the directory, keyed by its path relative to it."""
    if not policies_dir.is_dir():
        raise ContentError("is not a directory", file=str(policies_dir))
    files: dict[str, bytes] = {}
    for path in sorted(policies_dir.rglob("*.rego")):
        if not path.is_file():
            continue
        name = path.relative_to(policies_dir).as_posix()
        try:
            files[normalize_name(name)] = path.read_bytes()
        except UnsafePath as exc:
            raise ContentError(f"cannot be packed: {exc.detail}", file=str(path)) from exc
    if not files:
        raise ContentError("contains no .rego files", file=str(policies_dir))
    return files


def data_files(profiles: Mapping[str, RoleProfile], catalog: Catalog) -> dict[str, bytes]:
    # by_alias keeps the YAML spelling (downshift "from"/"to"); defaults are written out so
    # Rego can rely on every field being present.
    profile_data = {role: p.model_dump(mode="json", by_alias=True) for role, p in profiles.items()}
    return {
        PROFILES_DATA: json_bytes(profile_data),
        MODELS_DATA: json_bytes(catalog.model_dump(mode="json", by_alias=True)),
    }


def derive_roots(files: Mapping[str, bytes]) -> tuple[str, ...]:
    """The data roots plus each package's first segment, so every module is covered."""
    roots = set(DATA_ROOTS)
    for name, content in files.items():
        if name.endswith(".rego"):
            roots.add(rego_package(name, content).split("/")[0])
    ordered = tuple(sorted(roots))
    check_roots_disjoint(ordered)
    return ordered


def content_revision(files: Mapping[str, bytes]) -> str:
    """A revision that changes exactly when the content does."""
    listing = "".join(f"{name}\0{file_digest(name, files[name])}\n" for name in sorted(files))
    return "sha256:" + hashlib.sha256(listing.encode()).hexdigest()[:16]


def json_bytes(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False).encode("utf-8") + b"\n"


def git_metadata(directory: Path, *more: Path) -> dict[str, Any]:
    """``{"git_commit", "git_dirty"}`` for the checkout holding ``directory``, or ``{}``.

    Dirty means the bundle was not built from the commit alone: a tracked file under any of
    the directories is edited, or an untracked one (a new policy nobody committed) is there.
    Ignored files do not count. A directory git cannot answer for counts as dirty."""
    commit = _git(directory, "rev-parse", "HEAD")
    if commit is None:
        return {}
    dirty = False
    for folder in (directory, *more):
        status = _git(folder, "status", "--porcelain", "--untracked-files=all", "--", ".")
        dirty = dirty or status is None or bool(status)
    return {"git_commit": commit, "git_dirty": dirty}


def _git(directory: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(directory), *args], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None
