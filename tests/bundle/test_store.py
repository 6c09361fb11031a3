"""BundleStore: load, atomic swap, fail closed with nothing loaded, keep the last good bundle."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gateway.bundle.store import ActiveBundle, BundleError, BundleStore
from gateway.errors import Unavailable
from gateway.settings import BundleSettings, PolicySettings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "policies", tmp_path / "policies")
    shutil.copytree(ROOT / "bundles", tmp_path / "bundles")
    return tmp_path


def _store(tree: Path) -> BundleStore:
    return BundleStore(
        BundleSettings(policies_dir=tree / "policies", profiles_dir=tree / "bundles"), PolicySettings()
    )


async def _load(store: BundleStore) -> ActiveBundle:
    bundle = await store.load()
    assert bundle is not None
    return bundle


async def test_load_activates_a_bundle(tree: Path) -> None:
    store = _store(tree)
    bundle = await _load(store)
    assert store.current() is bundle
    assert bundle.revision == bundle.digest[:12] and len(bundle.digest) == 64
    assert "finance" in bundle.profiles and "gpt-4o" in bundle.catalog.models
    decision = await bundle.engine.decide(
        {"principal": {"roles": ["finance"]}, "action": "chat", "resource": {"model": "gpt-4o"}}
    )
    assert not decision.allow
    status = store.status()
    assert status["revision"] == bundle.revision and status["last_error"] is None and status["loaded_at"]
    assert status["state"] == "active" and status["verified"] is False and status["signer"] is None


def test_nothing_loaded_is_no_bundle(tree: Path) -> None:
    with pytest.raises(Unavailable) as info:
        _store(tree).current()
    assert info.value.reason == "no_bundle"


async def test_digest_is_stable_and_tracks_content(tree: Path) -> None:
    store = _store(tree)
    first = await _load(store)
    assert await _load(store) is first  # same content: nothing recompiled, nothing swapped
    (tree / "policies" / "extra.rego").write_text("package gateway\n\nextra := 1\n")
    assert (await _load(store)).digest != first.digest


async def test_test_files_do_not_change_the_digest(tree: Path) -> None:
    store = _store(tree)
    first = await _load(store)
    (tree / "policies" / "more_test.rego").write_text("package gateway_test\n")
    assert (await _load(store)).digest == first.digest


async def test_bad_profile_keeps_the_last_good_bundle(tree: Path) -> None:
    store = _store(tree)
    good = await _load(store)
    with (tree / "bundles" / "profiles" / "finance.yaml").open("a") as f:
        f.write("recipes: []\n")
    with pytest.raises(BundleError) as info:
        await store.load()
    assert "finance.yaml" in str(info.value) and "recipes: unknown key" in str(info.value)
    assert info.value.reason == "invalid_profiles" and info.value.result == "rejected"
    assert store.current() is good
    assert "recipes" in (store.status()["last_error"] or "")
    assert store.status()["reason"] == "invalid_profiles"


async def test_policy_syntax_error_keeps_the_last_good_bundle(tree: Path) -> None:
    store = _store(tree)
    good = await _load(store)
    (tree / "policies" / "broken.rego").write_text("package gateway\n\nbroken if {\n\tx := := 1\n}\n")
    with pytest.raises(BundleError) as info:
        await store.load()
    assert "broken.rego:4:" in str(info.value) and info.value.reason == "policy_compile_error"
    assert store.current() is good


async def test_first_load_failure_leaves_no_bundle(tree: Path) -> None:
    shutil.rmtree(tree / "policies")
    store = _store(tree)
    with pytest.raises(BundleError) as failed:
        await store.load()
    assert failed.value.result == "error" and failed.value.reason == "source_unavailable"
    with pytest.raises(Unavailable) as info:
        store.current()
    assert "policy directory not found" in info.value.message
    assert store.status()["state"] == "no_bundle"


async def test_in_flight_requests_keep_their_bundle(tree: Path) -> None:
    store = _store(tree)
    taken = await _load(store)
    (tree / "policies" / "extra.rego").write_text("package gateway\n\nextra := 1\n")
    swapped = await _load(store)
    assert swapped is not taken and store.current() is swapped
    decision = await taken.engine.decide({"principal": {"roles": ["finance"]}, "action": "models.list"})
    assert decision.allow  # the old engine still answers for the request that holds it


async def test_remote_engine_needs_a_url(tree: Path) -> None:
    store = BundleStore(
        BundleSettings(policies_dir=tree / "policies", profiles_dir=tree / "bundles"),
        PolicySettings(engine="remote"),
    )
    with pytest.raises(BundleError, match="opa_url"):
        await store.load()


class _Metrics:
    def __init__(self) -> None:
        self.loads: list[bool] = []
        self.counted: list[str] = []
        self.bundle: tuple[str, str] | None = None
        self.roles: list[str] = []
        self.faults: list[str] = []

    def observe_bundle_load(self, ok: bool, seconds: float) -> None:
        self.loads.append(ok)

    def count_bundle_load(self, result: str) -> None:
        self.counted.append(result)

    def set_bundle(self, revision: str, digest: str) -> None:
        self.bundle = (revision, digest)

    def count_policy_fault(self, kind: str) -> None:
        self.faults.append(kind)

    def set_known_labels(self, *, models: object, roles: object) -> None:
        self.roles = sorted(roles)  # type: ignore[call-overload]


async def test_loads_are_reported_to_metrics(tree: Path) -> None:
    metrics = _Metrics()
    store = BundleStore(
        BundleSettings(policies_dir=tree / "policies", profiles_dir=tree / "bundles"),
        PolicySettings(),
        metrics=metrics,
    )
    bundle = await _load(store)
    (tree / "bundles" / "models.yaml").write_text("providers: {}\nmodels: {x: {provider: nope}}\n")
    with pytest.raises(BundleError):
        await store.load()
    assert metrics.loads == [True] and metrics.counted == ["rejected"]
    assert metrics.bundle == (bundle.revision, bundle.digest) and "finance" in metrics.roles


async def test_unchanged_directory_is_not_read_again(tree: Path) -> None:
    store = _store(tree)
    first = await _load(store)
    assert await store.load(force=False) is None  # a poll that finds nothing to do
    (tree / "policies" / "extra.rego").write_text("package gateway\n\nextra := 1\n")
    changed = await store.load(force=False)
    assert changed is not None and changed is not first


async def test_refresh_never_raises(tree: Path) -> None:
    store = _store(tree)
    shutil.rmtree(tree / "policies")
    await store.refresh(force=True)  # logged and counted, not raised: pollers must survive
    assert store.status()["reason"] == "source_unavailable"
