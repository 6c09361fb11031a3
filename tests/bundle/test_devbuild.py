"""Dev mode: the bundle file is rebuilt and signed from the sources when they change."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.bundle.devbuild import RebuildingSource
from gateway.bundle.setup import make_source, poll_interval
from gateway.bundle.signed import FileSource
from gateway.bundle.store import BundleError, BundleStore
from gateway.bundle.trust import Trust, TrustConfigError
from gateway.settings import BundleSettings, PolicySettings, Settings
from signing import generate_key
from tests.bundle.helpers import KID, Workspace, workspace


def dev_store(ws: Workspace) -> tuple[BundleStore, Path]:
    private, public = generate_key("ES256")
    keys = ws.root / "keys"
    keys.mkdir()
    (keys / "dev.pem").write_bytes(private)
    (keys / "dev.pub.pem").write_bytes(public)
    settings = BundleSettings(
        source="file",
        path=ws.bundle,
        trusted_keys={"dev": keys / "dev.pub.pem"},
        dev_signing_key=keys / "dev.pem",
        policies_dir=ws.policies,
        profiles_dir=ws.data,
        verify=True,
    )
    trust = Trust.from_settings(settings, dev_mode=True)
    source = RebuildingSource(
        FileSource(ws.bundle, trust), ws.policies, ws.data, keys / "dev.pem", trust.keys
    )
    return BundleStore(settings, PolicySettings(), source=source), keys


async def test_sources_are_built_signed_and_verified(tmp_path: Path) -> None:
    ws = workspace(tmp_path)
    store, _ = dev_store(ws)
    first = await store.load()
    assert first is not None and ws.bundle.exists()
    assert first.signer is not None and first.signer.kid == "dev"  # signed under the trusted kid
    assert await store.load(force=False) is None  # nothing changed: nothing rebuilt or read

    ws.freeze_model()
    second = await store.load(force=False)
    assert second is not None and second.revision != first.revision

    with (ws.data / "profiles" / "finance.yaml").open("a") as profile:
        profile.write("recipes: []\n")
    with pytest.raises(BundleError) as info:
        await store.load(force=False)
    assert info.value.reason == "invalid_profiles" and "recipes" in str(info.value)
    assert store.current() is second


def test_dev_signing_key_needs_dev_mode(tmp_path: Path) -> None:
    ws = workspace(tmp_path)
    settings = Settings.model_validate(
        {
            "bundle": {
                "source": "file",
                "path": ws.bundle,
                "trusted_keys": {KID: ws.write_public_key()},
                "dev_signing_key": tmp_path / "dev.pem",
            }
        }
    )
    with pytest.raises(TrustConfigError, match="dev-mode"):
        make_source(settings, None)  # type: ignore[arg-type]


def test_directory_source_needs_verification_off() -> None:
    with pytest.raises(TrustConfigError, match="unsigned"):
        make_source(Settings(), None)  # type: ignore[arg-type]
    assert make_source(Settings.model_validate({"dev": {"enabled": True}}), None)  # type: ignore[arg-type]


def test_poll_intervals() -> None:
    assert poll_interval(Settings()) is None  # a directory is reloaded by SIGHUP only
    assert poll_interval(Settings.model_validate({"dev": {"enabled": True}})) == 1.0
    file = {"source": "file", "path": "b.tar.gz", "poll_interval_seconds": 7}
    assert poll_interval(Settings.model_validate({"bundle": file})) == 7
    watch_off = {"dev": {"enabled": True}, "bundle": {**file, "watch": False}}
    assert poll_interval(Settings.model_validate(watch_off)) == 7


@pytest.mark.parametrize(
    ("bundle", "message"),
    [
        ({"source": "file"}, "needs bundle.path"),
        ({"source": "url"}, "needs bundle.url"),
        ({"source": "url", "url": "ftp://x/b.tar.gz"}, "should match pattern"),
        ({"sigstore_identity": "x"}, "go together"),
        ({"dev_signing_key": "k.pem"}, "needs source 'file'"),
        ({"allowed_algorithms": ["HS256"]}, "Input should be"),
        ({"poll_interval_seconds": 0}, "greater than 0"),
    ],
)
def test_bundle_settings_are_validated(bundle: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BundleSettings.model_validate(bundle)
