"""What a verified bundle gives the policy engine and the gateway.

``policy_inputs`` turns the bundle into the two things either engine needs: Rego modules
by path and the data document (``{"profiles": ..., "models": ...}``), built from every
``data.json`` at its directory path exactly as OPA mounts it. ``bundle_profiles`` gives the
same data as validated ``RoleProfile`` objects for the gateway's profile stage.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from signing.build import MODELS_DATA, PROFILES_DATA
from signing.canonical import plain_json
from signing.errors import ContentError
from signing.manifest import DATA_FILE, REGO_SUFFIX, data_path
from signing.schema import Catalog, RoleProfile
from signing.verify import VerifiedBundle


@dataclass(frozen=True)
class PolicyInputs:
    revision: str
    digest: str
    modules: Mapping[str, str]  # bundle path -> Rego source
    data: Mapping[str, Any]  # the data document, e.g. data["profiles"]["finance"]


def policy_inputs(bundle: VerifiedBundle) -> PolicyInputs:
    modules: dict[str, str] = {}
    data: dict[str, Any] = {}
    for name in sorted(bundle.files):
        content = bundle.files[name]
        if name.endswith(REGO_SUFFIX):
            modules[name] = _text(name, content)
        elif posixpath.basename(name) == DATA_FILE:
            _insert(data, data_path(name), plain_json(name, content), name)
    return PolicyInputs(bundle.revision, bundle.digest, modules, data)


def bundle_profiles(bundle: VerifiedBundle) -> tuple[Catalog, dict[str, RoleProfile]]:
    """Re-validate the packed profile and catalog data (a bundle may come from elsewhere)."""
    try:
        catalog = Catalog.model_validate(_required(bundle, MODELS_DATA))
        raw = _required(bundle, PROFILES_DATA)
        if not isinstance(raw, dict):
            raise ContentError("must map role names to profiles", file=PROFILES_DATA)
        profiles = {role: RoleProfile.model_validate(body) for role, body in raw.items()}
    except ValueError as exc:
        if isinstance(exc, ContentError):
            raise
        raise ContentError(f"invalid profile data: {exc}", file=PROFILES_DATA) from exc
    for role, profile in profiles.items():
        if profile.role != role:
            raise ContentError(f"key {role!r} holds the profile of {profile.role!r}", file=PROFILES_DATA)
    return catalog, profiles


def _required(bundle: VerifiedBundle, name: str) -> Any:
    if name not in bundle.files:
        raise ContentError("the bundle has no such file", file=name)
    return plain_json(name, bundle.files[name])


def _insert(data: dict[str, Any], path: str, value: Any, name: str) -> None:
    node = data
    keys = path.split("/") if path else []
    for key in keys[:-1]:
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise ContentError(f"data path /{path} conflicts with another data file", file=name)
        node = child
    if not keys:
        if not isinstance(value, dict):
            raise ContentError("a root data.json must hold an object", file=name)
        _merge(data, value, name)
    elif keys[-1] in node:
        raise ContentError(f"data path /{path} is defined twice", file=name)
    else:
        node[keys[-1]] = value


def _merge(target: dict[str, Any], value: Mapping[str, Any], name: str) -> None:
    for key, item in value.items():
        if key in target:
            raise ContentError(f"data key {key!r} is defined twice", file=name)
        target[key] = item


def _text(name: str, content: bytes) -> str:
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ContentError("Rego source is not UTF-8", file=name) from exc
