"""HashiCorp Vault key providers (via hvac): a KV v2 secret or the Transit HMAC endpoint.

KV v2: the tenant's key is a random secret stored at ``<mount>/<path>/<tenant>``; the KV
version of the secret is the token's key version, so rotating is writing a new version.
The secret is cached for ``cache_ttl_s`` seconds and HMACs are computed locally.

Transit: the key never leaves Vault; each call's values are HMAC'd in one batch request
against ``<mount>/hmac/<key>``. The token's key version is the Transit key version.
"""

from __future__ import annotations

import base64
import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import hvac.exceptions

from guard.errors import KeyProviderError
from guard.keys import KEY_BYTES, check_tenant
from guard.pseudonyms import HmacSigner


class VaultKvKeyProvider:
    remote = True

    def __init__(
        self,
        client: Any,  # hvac.Client: created (and authenticated) by the caller
        *,
        mount: str = "secret",
        path_prefix: str = "skein/guard",
        cache_ttl_s: float = 300.0,
        create_missing: bool = True,
    ) -> None:
        self._client = client
        self._mount = mount
        self._prefix = path_prefix.strip("/")
        self._ttl = cache_ttl_s
        self._create = create_missing
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, HmacSigner]] = {}

    def signer(self, tenant: str) -> HmacSigner:
        check_tenant(tenant)
        now = time.monotonic()
        hit = self._cache.get(tenant)
        if hit is not None and now - hit[0] < self._ttl:
            return hit[1]
        with self._lock:
            signer = self._fetch(tenant)
            self._cache[tenant] = (now, signer)
            return signer

    def rotate(self, tenant: str) -> int:
        check_tenant(tenant)
        with self._lock:
            self._cache.pop(tenant, None)
            return self._write(tenant)

    def _fetch(self, tenant: str) -> HmacSigner:
        kv = self._client.secrets.kv.v2
        try:
            response = kv.read_secret_version(
                path=f"{self._prefix}/{tenant}", mount_point=self._mount, raise_on_deleted_version=True
            )
        except hvac.exceptions.InvalidPath:
            if not self._create:
                raise KeyProviderError(f"no guard key in Vault for tenant {tenant}") from None
            self._write(tenant)
            return self._fetch(tenant)
        except (hvac.exceptions.VaultError, OSError) as exc:
            raise KeyProviderError("Vault KV read failed") from exc
        try:
            secret = base64.b64decode(response["data"]["data"]["key"], validate=True)
            version = int(response["data"]["metadata"]["version"])
        except (KeyError, TypeError, ValueError) as exc:
            raise KeyProviderError("malformed guard key secret in Vault") from exc
        return HmacSigner(secret, version)

    def _write(self, tenant: str) -> int:
        key = base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()
        try:
            response = self._client.secrets.kv.v2.create_or_update_secret(
                path=f"{self._prefix}/{tenant}", secret={"key": key}, mount_point=self._mount
            )
        except (hvac.exceptions.VaultError, OSError) as exc:
            raise KeyProviderError("Vault KV write failed") from exc
        return int(response["data"]["version"])


@dataclass(frozen=True, slots=True)
class TransitSigner:
    client: Any
    mount: str
    key: str
    version: int

    def sign(self, messages: Sequence[bytes]) -> list[bytes]:
        if not messages:
            return []
        batch = [{"input": base64.b64encode(m).decode()} for m in messages]
        try:
            response = self.client.write_data(
                f"{self.mount}/hmac/{self.key}/sha2-256",
                data={"batch_input": batch, "key_version": self.version},
            )
            results = response["data"]["batch_results"]
        except (hvac.exceptions.VaultError, OSError, KeyError, TypeError) as exc:
            raise KeyProviderError("Vault Transit HMAC failed") from exc
        return [_transit_digest(item) for item in results]


def _transit_digest(item: dict[str, str]) -> bytes:
    if item.get("error"):
        raise KeyProviderError("Vault Transit HMAC failed for an item")
    # "vault:v3:<base64>"
    return base64.b64decode(item["hmac"].rsplit(":", 1)[1])


class VaultTransitKeyProvider:
    remote = True

    def __init__(
        self,
        client: Any,
        *,
        mount: str = "transit",
        key_prefix: str = "skein-guard-",
        version_ttl_s: float = 60.0,
        create_missing: bool = True,
    ) -> None:
        self._client = client
        self._mount = mount
        self._prefix = key_prefix
        self._ttl = version_ttl_s
        self._create = create_missing
        self._versions: dict[str, tuple[float, int]] = {}

    def signer(self, tenant: str) -> TransitSigner:
        check_tenant(tenant)
        key = self._prefix + tenant
        now = time.monotonic()
        hit = self._versions.get(tenant)
        if hit is None or now - hit[0] >= self._ttl:
            hit = (now, self._latest_version(key))
            self._versions[tenant] = hit
        return TransitSigner(self._client, self._mount, key, hit[1])

    def rotate(self, tenant: str) -> None:
        self._client.secrets.transit.rotate_key(
            name=self._prefix + check_tenant(tenant), mount_point=self._mount
        )
        self._versions.pop(tenant, None)

    def _latest_version(self, key: str) -> int:
        transit = self._client.secrets.transit
        try:
            return int(transit.read_key(name=key, mount_point=self._mount)["data"]["latest_version"])
        except hvac.exceptions.InvalidPath:
            if not self._create:
                raise KeyProviderError("no Transit key for tenant") from None
            transit.create_key(name=key, key_type="hmac", mount_point=self._mount)
            return self._latest_version(key)
        except (hvac.exceptions.VaultError, OSError, KeyError, TypeError) as exc:
            raise KeyProviderError("Vault Transit key read failed") from exc
