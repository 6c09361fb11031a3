"""Where a bundle's content comes from: the seam between fetching and activating.

A ``BundleSource`` returns a :class:`BundleContent`: the Rego modules, the validated model
catalog and role profiles, a digest, and who signed it. ``DirectorySource`` reads the
source tree (``policies/`` and ``bundles/``) unsigned, for dev mode; ``archive`` has the
signed tar.gz sources (a file or a URL), which verify and unpack into the same object.

``fetch(force=False)`` returns ``None`` when the source has not changed since the last
fetch, so polling is cheap; ``force=True`` (start-up, SIGHUP) always reads.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from signing import Signer
from signing.schema import Catalog, RoleProfile, load_catalog, load_profiles

TEST_SUFFIX = "_test.rego"


@dataclass(frozen=True, slots=True)
class BundleContent:
    policies: Mapping[str, str]  # module name (path under the policy root) -> Rego source
    catalog: Catalog
    profiles: Mapping[str, RoleProfile]
    digest: str  # directory: SHA-256 (hex) over the source files; archive: "sha256:" of the file
    origin: str  # where it was read, for messages
    revision: str | None = None  # the manifest's; None: derived from the digest
    signer: Signer | None = None  # None: not verified (dev mode)
    # The bundle's *_test.rego modules: never evaluated for a request, but run once when the
    # bundle is exercised before it serves (gateway.policy.exercise).
    tests: Mapping[str, str] = field(default_factory=dict)


class BundleSource(Protocol):
    @property
    def origin(self) -> str:
        """Where bundles come from, e.g. ``file:/etc/skein/bundle.tar.gz``: for /readyz, logs."""
        ...

    async def fetch(self, *, force: bool) -> BundleContent | None: ...


class SourceError(Exception):
    """The bundle cannot be fetched at all (I/O, HTTP); the message names the path or URL."""

    reason = "source_unavailable"


@dataclass(slots=True)
class DirectorySource:
    """Policies from ``policies_dir/**/*.rego`` (tests excluded: they never ship), the
    catalog from ``profiles_dir/models.yaml`` and profiles from ``profiles_dir/profiles/``."""

    policies_dir: Path
    profiles_dir: Path
    _seen: TreeStamp | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def origin(self) -> str:
        return f"directory:{self.policies_dir} + {self.profiles_dir}"

    async def fetch(self, *, force: bool) -> BundleContent | None:
        return await asyncio.to_thread(self._fetch, force)

    def _fetch(self, force: bool) -> BundleContent | None:
        stamp = tree_stamp((self.policies_dir, self.profiles_dir))
        if not force and stamp == self._seen:
            return None
        self._seen = stamp  # before reading: a broken tree is reported once, not every poll
        return self.read()

    def read(self) -> BundleContent:
        if not self.policies_dir.is_dir():
            raise SourceError(f"{self.policies_dir}: policy directory not found")
        rego_paths = sorted(self.policies_dir.rglob("*.rego"))
        module_paths = [p for p in rego_paths if not p.name.endswith(TEST_SUFFIX)]
        if not module_paths:
            raise SourceError(f"{self.policies_dir}: no Rego modules (*.rego) found")
        catalog_path = self.profiles_dir / "models.yaml"
        profile_paths = sorted((self.profiles_dir / "profiles").glob("*.yaml"))
        raw = {f"policies/{p.relative_to(self.policies_dir).as_posix()}": _read(p) for p in module_paths}
        raw["models.yaml"] = _read(catalog_path)
        raw.update({f"profiles/{p.name}": _read(p) for p in profile_paths})
        catalog = load_catalog(catalog_path)
        return BundleContent(
            policies={
                name.removeprefix("policies/"): raw[name].decode("utf-8")
                for name in raw
                if name.endswith(".rego")
            },
            catalog=catalog,
            profiles=load_profiles(self.profiles_dir / "profiles", catalog),
            digest=digest(raw),
            origin=f"{self.policies_dir} + {self.profiles_dir}",
            tests={
                p.relative_to(self.policies_dir).as_posix(): _read(p).decode("utf-8")
                for p in rego_paths
                if p.name.endswith(TEST_SUFFIX)
            },
        )


TreeStamp = tuple[tuple[str, int, int], ...]


def tree_stamp(roots: Iterable[Path]) -> TreeStamp:
    """(path, mtime, size) of every file under ``roots``: a change detector that costs a few
    ``stat`` calls, so dev mode can poll it every second without reading anything."""
    entries: list[tuple[str, int, int]] = []
    for root in roots:
        for folder, _, names in os.walk(root):
            for name in names:
                path = os.path.join(folder, name)
                try:
                    info = os.stat(path)
                except OSError:  # deleted between walk and stat: the next poll sees it
                    continue
                entries.append((path, info.st_mtime_ns, info.st_size))
    return tuple(sorted(entries))


def digest(files: Mapping[str, bytes]) -> str:
    """SHA-256 over ``name NUL content NUL`` for every file, sorted by name."""
    sha = hashlib.sha256()
    for name in sorted(files):
        sha.update(name.encode() + b"\0" + files[name] + b"\0")
    return sha.hexdigest()


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SourceError(f"{path}: cannot read: {exc.strerror}") from exc
