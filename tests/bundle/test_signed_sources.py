"""Signed bundle sources through the store: a file, a URL with ETag polling, trust settings."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from gateway.bundle.signed import FileSource, UrlSource
from gateway.bundle.store import ActiveBundle, BundleError, BundleStore
from gateway.bundle.trust import Trust, TrustConfigError
from gateway.errors import Unavailable
from gateway.metrics import Metrics
from gateway.settings import BundleSettings, PolicySettings
from tests.bundle.helpers import KID, BundleServer, Workspace, flip, workspace
from tests.test_metrics import value

SIGSTORE_ASSETS = Path("/work/shared/sigstore-assets")


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return workspace(tmp_path)


def trust_for(ws: Workspace, **settings: object) -> Trust:
    bundle = BundleSettings.model_validate(
        {"source": "file", "path": ws.bundle, "trusted_keys": {KID: ws.write_public_key()}, **settings}
    )
    return Trust.from_settings(bundle, dev_mode=False)


def file_store(ws: Workspace, metrics: Metrics | None = None, **settings: object) -> BundleStore:
    source = FileSource(ws.bundle, trust_for(ws, **settings))
    return BundleStore(BundleSettings(), PolicySettings(), source=source, metrics=metrics)


async def active(store: BundleStore, *, force: bool = True) -> ActiveBundle:
    bundle = await store.load(force=force)
    assert bundle is not None
    return bundle


async def test_file_source_activates_a_signed_bundle(ws: Workspace) -> None:
    data = ws.publish("r1")
    store = file_store(ws)
    bundle = await active(store)
    assert bundle.revision == "r1"
    assert bundle.digest == "sha256:" + hashlib.sha256(data).hexdigest()  # the file's own digest
    assert bundle.signer is not None and bundle.signer.kid == KID and bundle.signer.algorithm == "ES256"
    assert "finance" in bundle.profiles
    status = store.status()
    assert status["source"] == f"file:{ws.bundle}" and status["verified"] is True
    assert status["signer"] == {"method": "jws", "kid": KID, "alg": "ES256"}


async def test_file_source_polls_with_a_stat_and_picks_up_a_new_revision(ws: Workspace) -> None:
    ws.publish("r1")
    store = file_store(ws)
    first = await active(store)
    assert await store.load(force=False) is None  # unchanged file: not even read
    ws.freeze_model()
    ws.publish("r2")
    second = await active(store, force=False)
    assert second.revision == "r2" and store.current() is second
    decision = await second.engine.decide(
        {"principal": {"roles": ["finance"]}, "action": "chat", "resource": {"model": "gpt-4o-mini"}}
    )
    assert not decision.allow and decision.reasons[0].code == "model_frozen"
    assert first.revision == "r1"  # the object an in-flight request holds is untouched


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        ("unsigned", "unsigned"),
        ("other_key", "bad_signature"),
        ("other_kid", "unknown_kid"),
        ("garbage", "malformed_archive"),
    ],
)
async def test_a_refused_bundle_keeps_the_last_good_one(ws: Workspace, damage: str, reason: str) -> None:
    ws.publish("r1")
    metrics = Metrics()
    store = file_store(ws, metrics)
    good = await active(store)
    if damage == "unsigned":
        ws.publish("r2", signed=False)
    elif damage == "other_key":
        trusted_key = ws.key
        ws.key = Workspace(ws.root).key  # same kid, a key nobody trusts
        ws.publish("r2")
        ws.key = trusted_key
    elif damage == "other_kid":
        ws.bundle.write_bytes(_resign(ws, "someone-else"))
    else:
        ws.bundle.write_bytes(b"not a bundle at all")
    with pytest.raises(BundleError) as info:
        await store.load(force=False)
    assert info.value.reason == reason and info.value.result == "rejected"
    assert store.current() is good
    assert store.status()["reason"] == reason and store.status()["revision"] == "r1"
    assert value(metrics, "skein_bundle_load_total", result="rejected") == 1
    assert await store.load(force=False) is None  # reported once, not again on every poll


def _resign(ws: Workspace, kid: str) -> bytes:
    from signing import sign_bundle

    return sign_bundle(ws.build("r2", signed=False), ws.key, kid)


async def test_unsigned_bundle_at_start_is_never_used(ws: Workspace) -> None:
    ws.publish("r1", signed=False)
    store = file_store(ws)
    with pytest.raises(BundleError) as info:
        await store.load()
    assert info.value.reason == "unsigned"
    with pytest.raises(Unavailable) as refused:
        store.current()
    assert refused.value.reason == "no_bundle" and "[unsigned]" in refused.value.message
    ws.publish("r2")  # a good bundle arrives later
    assert (await active(store, force=False)).revision == "r2"


async def test_verification_off_reads_an_unsigned_bundle_safely(ws: Workspace) -> None:
    ws.publish("dev", signed=False)
    bundle = await active(file_store(ws, verify=False))
    assert bundle.revision == "dev" and bundle.signer is None
    ws.bundle.write_bytes(b"\x1f\x8b garbage")  # the archive checks still apply
    with pytest.raises(BundleError, match="malformed_archive"):
        await file_store(ws, verify=False).load()


def test_test_modules_are_not_compiled(ws: Workspace) -> None:
    content = trust_for(ws).content(ws.build("r1"), None, "test")
    assert "models.rego" in content.policies
    assert not any(name.endswith("_test.rego") for name in content.policies)


def test_every_changed_byte_is_refused_or_changes_nothing(ws: Workspace) -> None:
    """What is enforced is what was signed: a flipped byte is refused, or it hit container
    metadata outside the signature (gzip header) and the content is identical."""
    data = ws.build("r1")
    trust = trust_for(ws)
    good = trust.content(data, None, "test")
    refused = 0
    for index in range(0, len(data), max(1, len(data) // 150)):
        try:
            content = trust.content(flip(data, index), None, "test")
        except ValueError:  # every signing refusal is a BundleError, a ValueError
            refused += 1
            continue
        assert (content.policies, content.profiles, content.revision) == (
            good.policies,
            good.profiles,
            good.revision,
        )
        assert content.digest != good.digest  # the file digest still tells them apart
    assert refused > 100


def test_scope_and_algorithms_are_enforced(ws: Workspace) -> None:
    data = ws.build("r1")
    with pytest.raises(ValueError, match="scope_mismatch"):
        trust_for(ws, scope="prod").content(data, None, "test")
    with pytest.raises(ValueError, match="alg_not_allowed"):
        trust_for(ws, allowed_algorithms=["EdDSA"]).content(data, None, "test")


def test_trust_configuration_errors(ws: Workspace, tmp_path: Path) -> None:
    with pytest.raises(TrustConfigError, match="nothing is trusted"):
        Trust.from_settings(BundleSettings(source="file", path=ws.bundle), dev_mode=False)
    assert not Trust.from_settings(BundleSettings(source="file", path=ws.bundle), dev_mode=True).required
    with pytest.raises(TrustConfigError, match="cannot read"):
        trust_for(ws, trusted_keys={KID: tmp_path / "missing.pem"})
    (tmp_path / "junk.pem").write_text("junk")
    with pytest.raises(TrustConfigError, match="bad_key"):
        trust_for(ws, trusted_keys={KID: tmp_path / "junk.pem"})


async def test_sigstore_needs_its_detached_bundle(ws: Workspace) -> None:
    identity = {"sigstore_identity": "https://github.com/acme/p/.github/workflows/b.yml@refs/heads/main"}
    trust = trust_for(ws, **identity, sigstore_issuer="https://token.actions.githubusercontent.com")
    data = ws.build("r1")
    with pytest.raises(ValueError, match=r"sigstore_failed.*no detached Sigstore bundle"):
        trust.content(data, None, "test")
    if SIGSTORE_ASSETS.is_dir():  # a real Sigstore bundle, but for another artifact
        other = (SIGSTORE_ASSETS / "bundle_v3.txt.sigstore").read_bytes()
        with pytest.raises(ValueError, match="sigstore_failed"):
            trust.content(data, other, "test")


# -- the URL source ----------------------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[BundleServer]:
    with BundleServer().running() as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


async def test_url_source_304s_then_a_new_revision_then_a_tampered_one(
    ws: Workspace, server: BundleServer, http: httpx.AsyncClient
) -> None:
    metrics = Metrics()
    source = UrlSource(server.url, trust_for(ws), http, timeout=5)
    store = BundleStore(BundleSettings(), PolicySettings(), source=source, metrics=metrics)
    server.publish(ws.build("r1"))
    first = await active(store)
    for _ in range(3):
        assert await store.load(force=False) is None
    assert [status for _, status in server.requests] == [200, 304, 304, 304]

    ws.freeze_model()
    second_bytes = ws.build("r2")
    server.publish(second_bytes)
    second = await active(store, force=False)
    assert second.revision == "r2" and second is not first
    assert second.digest == "sha256:" + hashlib.sha256(second_bytes).hexdigest()
    assert value(metrics, "skein_bundle_info", revision="r2", digest=second.digest) == 1

    server.publish(flip(ws.build("r3"), len(second_bytes) // 2))
    with pytest.raises(BundleError):
        await store.load(force=False)
    assert store.current() is second
    assert value(metrics, "skein_bundle_load_total", result="rejected") == 1
    assert value(metrics, "skein_bundle_load_total", result="ok") == 2
    assert await store.load(force=False) is None  # the refused ETag is not fetched again


async def test_url_source_errors_keep_the_bundle(
    ws: Workspace, server: BundleServer, http: httpx.AsyncClient
) -> None:
    metrics = Metrics()
    store = BundleStore(
        BundleSettings(),
        PolicySettings(),
        source=UrlSource(server.url.replace("bundle.tar.gz", "missing"), trust_for(ws), http, timeout=5),
        metrics=metrics,
    )
    with pytest.raises(BundleError) as info:
        await store.load()
    assert info.value.result == "error" and "HTTP 404" in str(info.value)
    assert value(metrics, "skein_bundle_load_total", result="error") == 1
