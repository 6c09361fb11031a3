"""The bundle layout: ``.manifest``, roots, data paths and Rego packages.

OPA refuses a bundle whose data or policy packages fall outside the manifest ``roots``, or
whose roots overlap; we apply the same rules on build and on read, so a bundle we accept
is one an OPA sidecar accepts too.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from signing.canonical import plain_json
from signing.errors import ContentError, ManifestError, RootsViolation

MANIFEST = ".manifest"
SIGNATURES = ".signatures.json"
DATA_FILE = "data.json"
REGO_SUFFIX = ".rego"

_COMMENT = re.compile(r"#[^\n]*")
_PACKAGE = re.compile(r"^\s*package\s+(\S+)", re.MULTILINE)
_REF_PART = re.compile(r'\.?([A-Za-z_][A-Za-z0-9_]*)|\["([^"\\]+)"\]')


@dataclass(frozen=True)
class Manifest:
    revision: str
    roots: tuple[str, ...]
    metadata: Mapping[str, Any] = field(default_factory=dict)
    rego_version: int | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"revision": self.revision, "roots": list(self.roots)}
        if self.rego_version is not None:
            body["rego_version"] = self.rego_version
        if self.metadata:
            body["metadata"] = dict(self.metadata)
        return body


def parse_manifest(files: Mapping[str, bytes]) -> Manifest:
    """Read and check ``.manifest``; the gateway needs a revision, so it is required."""
    if MANIFEST not in files:
        raise ManifestError("the bundle has no .manifest", file=MANIFEST)
    body = plain_json(MANIFEST, files[MANIFEST])
    if not isinstance(body, dict):
        raise ManifestError("must be a JSON object", file=MANIFEST)
    revision, roots = body.get("revision"), body.get("roots")
    if not isinstance(revision, str) or not revision:
        raise ManifestError("revision must be a non-empty string", file=MANIFEST)
    if not isinstance(roots, list) or not roots or not all(isinstance(r, str) for r in roots):
        raise ManifestError("roots must be a non-empty list of strings", file=MANIFEST)
    metadata = body.get("metadata", {})
    if not isinstance(metadata, dict):
        raise ManifestError("metadata must be an object", file=MANIFEST)
    rego_version = body.get("rego_version")
    if rego_version not in (None, 0, 1):
        raise ManifestError("rego_version must be 0 or 1", file=MANIFEST)
    manifest = Manifest(revision, tuple(r.strip("/") for r in roots), metadata, rego_version)
    check_roots_disjoint(manifest.roots)
    return manifest


def check_roots_disjoint(roots: Iterable[str]) -> None:
    ordered = list(roots)
    for index, first in enumerate(ordered):
        for second in ordered[index + 1 :]:
            if _contains(first, second) or _contains(second, first):
                raise ManifestError(f"roots {first!r} and {second!r} overlap", file=MANIFEST)


def check_layout(files: Mapping[str, bytes], manifest: Manifest) -> None:
    """Every data document and every package must sit inside a root, as OPA requires."""
    for name, content in files.items():
        if name.endswith(REGO_SUFFIX):
            package = rego_package(name, content)
            if not any(_contains(root, package) for root in manifest.roots):
                roots = list(manifest.roots)
                raise RootsViolation(f"package path {package!r} is outside roots {roots}", file=name)
        elif posixpath.basename(name) == DATA_FILE:
            where = data_path(name)
            bad = _outside(plain_json(name, content), where, manifest.roots)
            if bad is not None:
                raise RootsViolation(f"data at /{bad} is outside roots {list(manifest.roots)}", file=name)


def data_path(name: str) -> str:
    """``profiles/data.json`` is ``data.profiles``: the directory is the data path."""
    return posixpath.dirname(name)


def rego_package(name: str, content: bytes) -> str:
    """The module's package as a slash path (``gateway.authz`` -> ``gateway/authz``)."""
    try:
        source = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ContentError("Rego source is not UTF-8", file=name) from exc
    match = _PACKAGE.search(_COMMENT.sub("", source))
    if match is None:
        raise ContentError("no package declaration", file=name)
    ref, parts, position = match.group(1), [], 0
    while position < len(ref):
        part = _REF_PART.match(ref, position)
        if part is None or (position == 0 and ref.startswith(".")):
            raise ContentError(f"cannot parse package {ref!r}", file=name)
        parts.append(part.group(1) or part.group(2))
        position = part.end()
    return "/".join(parts)


def _segments(path: str) -> list[str]:
    return path.split("/") if path else []


def _contains(root: str, path: str) -> bool:
    """OPA's rootContains: the empty root holds everything, else a segment prefix."""
    root_parts, path_parts = _segments(root), _segments(path)
    return root_parts == path_parts[: len(root_parts)] and len(root_parts) <= len(path_parts)


def _outside(value: Any, path: str, roots: tuple[str, ...]) -> str | None:
    """Return the first data path not covered by ``roots`` (OPA's depth-first check)."""
    if any(_contains(root, path) for root in roots):
        return None
    if isinstance(value, dict) and any(_contains(path, root) for root in roots):
        for key, child in value.items():
            bad = _outside(child, f"{path}/{key}" if path else key, roots)
            if bad is not None:
                return bad
        return None
    return path
