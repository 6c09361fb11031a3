"""Dev mode only: rebuild and sign the bundle file when the policy sources change.

``make run`` serves a signed bundle file so that dev exercises the same verify-then-activate
path as production. To keep the edit-and-see loop of a source directory, this source wraps
the file source: when anything under ``policies_dir`` or ``profiles_dir`` changed since the
last look, it does what ``skein bundle build && skein bundle sign`` would do (same builder,
same dev key), replaces the file atomically, and then lets the file source read and verify
the result like any other bundle. The key never leaves dev mode (settings refuse it there).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from gateway.bundle.signed import FileSource
from gateway.bundle.source import BundleContent, SourceError, TreeStamp, tree_stamp
from signing import (
    BundleError,
    KeyFileError,
    PrivateKey,
    PublicKey,
    build_bundle,
    git_metadata,
    key_id,
    load_private_key,
    public_pem,
    read_unverified,
    sign_bundle,
)


class RebuildingSource:
    def __init__(
        self,
        inner: FileSource,
        policies_dir: Path,
        profiles_dir: Path,
        key_path: Path,
        trusted: Mapping[str, PublicKey],
    ) -> None:
        self.origin = f"{inner.origin} (dev: rebuilt from {policies_dir} + {profiles_dir})"
        self._inner = inner
        self._dirs = (policies_dir, profiles_dir)
        self._key_path = key_path
        self._trusted = trusted
        self._seen: TreeStamp | None = None

    async def fetch(self, *, force: bool) -> BundleContent | None:
        stamp = await asyncio.to_thread(tree_stamp, self._dirs)
        if stamp != self._seen:
            self._seen = stamp  # before building: a broken source is reported once per edit
            await asyncio.to_thread(self._rebuild)
        return await self._inner.fetch(force=force)

    def _rebuild(self) -> None:
        raw = build_bundle(*self._dirs, metadata=git_metadata(self._dirs[0]))
        path = self._inner.path
        if _same_content(path, raw):
            # The build is reproducible but ECDSA signatures are not: re-signing an unchanged
            # build (e.g. the one `make run` just made) would only cause a pointless reload.
            return
        key = _private_key(self._key_path)
        _write_atomically(path, sign_bundle(raw, key, _kid_for(key, self._trusted)))


def _same_content(path: Path, raw: bytes) -> bool:
    try:
        return read_unverified(path.read_bytes()).files == read_unverified(raw).files
    except (OSError, BundleError):  # no file yet, or a broken one: rebuild
        return False


def _kid_for(key: PrivateKey, trusted: Mapping[str, PublicKey]) -> str:
    """Sign under the kid the gateway trusts this key as, so verification finds it."""
    mine = public_pem(key.public_key())
    for kid, public in trusted.items():
        if public_pem(public) == mine:
            return kid
    return key_id(key.public_key())  # not trusted: verification will say unknown_kid


def _private_key(path: Path) -> PrivateKey:
    try:
        return load_private_key(path.read_bytes(), source=str(path))
    except OSError as exc:
        raise KeyFileError(f"cannot read the dev signing key: {exc.strerror}", file=str(path)) from exc


def _write_atomically(path: Path, content: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(handle, "wb") as out:
            out.write(content)
        os.chmod(temp, 0o644)  # as `skein bundle sign` leaves it: a bundle is not a secret
        os.replace(temp, path)
    except OSError as exc:
        raise SourceError(f"{path}: cannot write the rebuilt bundle: {exc.strerror}") from exc
