"""Build the bundle store from settings and start its reloads: the lifespan's one call.

Start-up policy, by source:

* ``directory`` is the unsigned dev path: it is refused when verification is on (a tree of
  files carries no signature), and a broken tree stops start-up, as it always has: the
  developer is at the terminal.
* ``file`` and ``url`` are the deployed paths: a missing, unsigned or invalid bundle does not
  stop the process. It starts, answers ``503 no_bundle`` with the reason in ``/readyz``, and
  keeps polling, so the first good bundle to arrive is served without a restart.

Configuration mistakes (an unreadable trusted key, verification with nothing to trust)
always stop start-up: no bundle could ever pass, so waiting would only hide the mistake.
They, and a broken ``directory`` tree, are ``SettingsError``s naming the key: ``skein serve``
prints them as one line and exits with 2.
"""

from __future__ import annotations

from contextlib import AsyncExitStack

import httpx

from gateway.bundle.devbuild import RebuildingSource
from gateway.bundle.reloader import Reloader
from gateway.bundle.signed import FileSource, UrlSource
from gateway.bundle.source import BundleSource, DirectorySource
from gateway.bundle.store import BundleError, BundleMetrics, BundleStore
from gateway.bundle.trust import Trust, TrustConfigError
from gateway.settings import Settings, SettingsError

DEV_WATCH_SECONDS = 1.0  # dev mode: an edit shows up within a second; a poll is a few stats


async def open_bundles(
    settings: Settings, metrics: BundleMetrics, http: httpx.AsyncClient, stack: AsyncExitStack
) -> BundleStore:
    """Load the first bundle, start polling and SIGHUP; both stop when ``stack`` closes."""
    source = make_source(settings, http)
    store = BundleStore(settings.bundle, settings.policy, source=source, metrics=metrics)
    stack.push_async_callback(store.aclose)
    try:
        await store.load()
    except BundleError as exc:
        if isinstance(source, DirectorySource):
            raise SettingsError(
                f"bundle.source 'directory' ({source.origin.removeprefix('directory:')}): {exc}; fix the "
                "file, or point bundle.policies_dir / bundle.profiles_dir at the right directories"
            ) from exc
    reloader = Reloader(store, interval=poll_interval(settings))
    reloader.start()
    stack.push_async_callback(reloader.aclose)
    return store


def make_source(settings: Settings, http: httpx.AsyncClient) -> BundleSource:
    bundle = settings.bundle
    trust = source_trust(settings)
    if trust is None:
        return DirectorySource(bundle.policies_dir, bundle.profiles_dir)
    if bundle.source == "url":
        assert bundle.url is not None  # BundleSettings requires it for this source
        return UrlSource(bundle.url, trust, http, timeout=bundle.http_timeout_seconds)
    assert bundle.path is not None  # BundleSettings requires it for this source
    files = FileSource(bundle.path, trust)
    if bundle.dev_signing_key is None:
        return files
    return RebuildingSource(
        files, bundle.policies_dir, bundle.profiles_dir, bundle.dev_signing_key, trust.keys
    )


def source_trust(settings: Settings) -> Trust | None:
    """The trust for a signed source (``None``: the unsigned directory source), or a
    ``TrustConfigError`` naming the key. Reads the trusted key files; ``skein serve`` and
    ``skein config check`` call it before start-up too."""
    bundle, dev = settings.bundle, settings.dev.enabled
    if bundle.source == "directory":
        if bundle.verification(dev):
            raise TrustConfigError(
                "bundle.source: 'directory' (the default source tree) is unsigned, but verification "
                "is on: use source 'file' with a signed bundle (bundle.path + bundle.trusted_keys, "
                "see deploy/skein.example.yaml), or in dev set dev.enabled"
            )
        return None
    if bundle.dev_signing_key is not None and not dev:
        raise TrustConfigError("bundle.dev_signing_key is a dev-mode setting: remove it, or set dev.enabled")
    return Trust.from_settings(bundle, dev_mode=dev)


def poll_interval(settings: Settings) -> float | None:
    bundle = settings.bundle
    if bundle.watching(settings.dev.enabled):
        return DEV_WATCH_SECONDS
    return None if bundle.source == "directory" else bundle.poll_interval_seconds
