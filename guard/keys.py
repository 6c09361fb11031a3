"""Pseudonym keys per tenant: the provider protocol and the local key file provider."""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import threading
from pathlib import Path
from typing import Any, Protocol

from guard.errors import GuardConfigError, KeyProviderError
from guard.pseudonyms import HmacSigner, Signer

# {"current": 2, "keys": {"1": "<base64>", "2": "<base64>"}}
KeyFile = dict[str, Any]
_TENANT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
KEY_BYTES = 32


class KeyProvider(Protocol):
    """Gives the signer (current key version) for a tenant.

    ``remote`` providers do network I/O in ``signer``/``Signer.sign``; the async facade
    then calls them from a worker thread instead of the event loop.
    """

    remote: bool

    def signer(self, tenant: str) -> Signer: ...


def check_tenant(tenant: str) -> str:
    """Tenant ids become file names and Vault paths: restrict them."""
    if not _TENANT.fullmatch(tenant) or ".." in tenant:
        raise GuardConfigError("tenant id must match [A-Za-z0-9][A-Za-z0-9._-]{0,127}")
    return tenant


class FileKeyProvider:
    """Keys in ``<state_dir>/guard-keys/<tenant>.json`` (0600, directory 0700).

    A tenant's file is created with a random key on first use. ``rotate`` adds a version
    and makes it current; old versions stay in the file, so tokens minted under them can
    still be recomputed. Every replica must share the file (or use Vault) for tokens to
    agree across replicas.
    """

    remote = False

    def __init__(self, state_dir: Path | str) -> None:
        self._dir = Path(state_dir) / "guard-keys"
        self._lock = threading.Lock()
        self._signers: dict[str, HmacSigner] = {}

    def signer(self, tenant: str) -> HmacSigner:
        check_tenant(tenant)
        cached = self._signers.get(tenant)
        if cached is not None:
            return cached
        with self._lock:
            data = self._load_or_create(tenant)
            signer = self._current(data)
            self._signers[tenant] = signer
            return signer

    def rotate(self, tenant: str) -> int:
        """Create a new key version for ``tenant``; returns the new version."""
        check_tenant(tenant)
        with self._lock:
            data = self._load_or_create(tenant)
            version = max(int(v) for v in data["keys"]) + 1
            data["keys"][str(version)] = _new_key()
            data["current"] = version
            self._write(self._path(tenant), data, replace=True)
            self._signers.pop(tenant, None)
            return version

    def _path(self, tenant: str) -> Path:
        return self._dir / f"{tenant}.json"

    def _load_or_create(self, tenant: str) -> KeyFile:
        path = self._path(tenant)
        try:
            return self._read(path)
        except FileNotFoundError:
            pass
        data: KeyFile = {"current": 1, "keys": {"1": _new_key()}}
        try:
            self._write(path, data, replace=False)
        except FileExistsError:
            return self._read(path)  # another process created it first: use theirs
        return data

    def _read(self, path: Path) -> KeyFile:
        try:
            data = json.loads(path.read_text("utf-8"))
        except FileNotFoundError:
            raise
        except (OSError, ValueError) as exc:
            raise KeyProviderError(f"cannot read key file {path.name}") from exc
        if not isinstance(data, dict) or not isinstance(data.get("keys"), dict):
            raise KeyProviderError(f"malformed key file {path.name}")
        return data

    def _write(self, path: Path, data: KeyFile, *, replace: bool) -> None:
        self._dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        payload = json.dumps(data).encode()
        target = path.with_suffix(".tmp") if replace else path
        # O_EXCL + 0600 at creation: the key is never readable by others, not even briefly.
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        if replace and target.exists():
            target.unlink()
        fd = os.open(target, flags, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        if replace:
            os.replace(target, path)

    @staticmethod
    def _current(data: KeyFile) -> HmacSigner:
        keys = data["keys"]
        version = int(str(data.get("current", max(int(v) for v in keys))))
        try:
            secret = base64.b64decode(keys[str(version)], validate=True)
        except (KeyError, ValueError) as exc:
            raise KeyProviderError(f"key version {version} missing or invalid") from exc
        return HmacSigner(secret, version)


def _new_key() -> str:
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()
