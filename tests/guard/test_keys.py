"""Key providers: the local file provider always; Vault only against a real Vault."""

from __future__ import annotations

import os
import stat
import uuid
from pathlib import Path

import pytest

from guard import FileKeyProvider, GuardConfigError, KeyProviderError
from guard.pseudonyms import message


def test_file_created_private_and_reused(tmp_path: Path) -> None:
    provider = FileKeyProvider(tmp_path)
    signer = provider.signer("acme")
    path = tmp_path / "guard-keys" / "acme.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    again = FileKeyProvider(tmp_path).signer("acme")  # a new process reads the same key
    assert signer.version == again.version == 1
    assert signer.sign([b"x"]) == again.sign([b"x"])
    assert "secret" not in repr(signer) and signer.secret.hex() not in repr(signer)


def test_tenants_get_different_keys(tmp_path: Path) -> None:
    provider = FileKeyProvider(tmp_path)
    assert provider.signer("acme").sign([b"x"]) != provider.signer("globex").sign([b"x"])


def test_rotation_adds_a_version(tmp_path: Path) -> None:
    provider = FileKeyProvider(tmp_path)
    old = provider.signer("acme")
    assert provider.rotate("acme") == 2
    new = FileKeyProvider(tmp_path).signer("acme")
    assert new.version == 2 and new.sign([b"x"]) != old.sign([b"x"])
    assert stat.S_IMODE((tmp_path / "guard-keys" / "acme.json").stat().st_mode) == 0o600


@pytest.mark.parametrize("tenant", ["../etc", "", "a/b", ".hidden", "x" * 200])
def test_tenant_names_are_checked(tmp_path: Path, tenant: str) -> None:
    with pytest.raises(GuardConfigError):
        FileKeyProvider(tmp_path).signer(tenant)


def test_corrupt_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "guard-keys").mkdir()
    (tmp_path / "guard-keys" / "acme.json").write_text("not json")
    with pytest.raises(KeyProviderError):
        FileKeyProvider(tmp_path).signer("acme")


def test_message_binds_entity_type() -> None:
    assert message("PERSON", "x") != message("LOCATION", "x")


VAULT = pytest.mark.skipif(
    not (os.environ.get("VAULT_ADDR") and os.environ.get("VAULT_TOKEN")),
    reason="needs a real Vault: set VAULT_ADDR and VAULT_TOKEN (KV v2 at secret/, transit enabled)",
)


@pytest.fixture
def vault_client() -> object:
    import hvac

    client = hvac.Client(url=os.environ["VAULT_ADDR"], token=os.environ["VAULT_TOKEN"])
    assert client.is_authenticated()
    return client


@VAULT
def test_vault_kv_provider(vault_client: object) -> None:
    from guard import VaultKvKeyProvider

    tenant = f"test-{uuid.uuid4().hex[:8]}"
    provider = VaultKvKeyProvider(vault_client, cache_ttl_s=0)
    first = provider.signer(tenant)
    assert first.sign([b"x"]) == provider.signer(tenant).sign([b"x"])
    version = provider.rotate(tenant)
    rotated = provider.signer(tenant)
    assert rotated.version == version > first.version
    assert rotated.sign([b"x"]) != first.sign([b"x"])


@VAULT
def test_vault_transit_provider(vault_client: object) -> None:
    from guard import VaultTransitKeyProvider

    tenant = f"test-{uuid.uuid4().hex[:8]}"
    provider = VaultTransitKeyProvider(vault_client, version_ttl_s=0)
    signer = provider.signer(tenant)
    digests = signer.sign([b"a", b"b", b"a"])
    assert digests[0] == digests[2] != digests[1] and len(digests[0]) == 32
    provider.rotate(tenant)
    assert provider.signer(tenant).version == signer.version + 1
