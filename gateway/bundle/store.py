"""The active bundle: one immutable object, swapped atomically.

``BundleStore.load()`` fetches from the source (which verifies a signed bundle before it
returns anything), exercises the policy in a separate process (compile, the bundle's own
tests, a smoke corpus of inputs: ``gateway.policy.exercise``, so a policy that crashes or
hangs the engine is refused before it can serve), compiles it (a new engine per bundle)
and only then replaces the active bundle with a single reference assignment. A request
takes ``current()`` once and keeps that object to the end, so a swap never mixes the
profiles of one bundle with the policy of another, in-flight requests finish on the bundle
they started with, and none waits for a load. A failed load keeps the last good bundle, is
logged with its reason code, counted (``rejected``: the bundle was refused; ``error``: it
could not be fetched) and shown in ``/readyz``; with no good bundle at all, requests get
``503 no_bundle``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from gateway.bundle.source import BundleContent, BundleSource, DirectorySource, SourceError
from gateway.errors import Unavailable
from gateway.policy.embedded import EmbeddedEngine
from gateway.policy.engine import PolicyEngine
from gateway.policy.exercise import DEFAULT_TIMEOUT_SECONDS, ExerciseError, exercise
from gateway.policy.rego_data import bundle_data
from gateway.policy.remote import RemoteEngine
from gateway.settings import BundleSettings, PolicySettings
from signing import BundleError as SigningError
from signing import Signer
from signing.schema import Catalog, RoleProfile, SchemaError

log = logging.getLogger("skein.bundle")


@dataclass(frozen=True, slots=True)
class ActiveBundle:
    revision: str  # the manifest revision (directory source: a short digest)
    digest: str  # "sha256:<hex>" of the bundle file (directory source: over the source files)
    catalog: Catalog
    profiles: Mapping[str, RoleProfile]
    engine: PolicyEngine
    loaded_at: float  # unix time
    signer: Signer | None = None  # None: not verified (dev mode)


class BundleMetrics(Protocol):
    """The part of ``gateway.metrics.Metrics`` the store reports to."""

    def observe_bundle_load(self, ok: bool, seconds: float) -> None: ...

    def count_bundle_load(self, result: Literal["ok", "rejected", "error"]) -> None: ...

    def set_bundle(self, revision: str, digest: str) -> None: ...

    def set_known_labels(self, *, models: Iterable[str], roles: Iterable[str]) -> None: ...

    def count_policy_fault(self, kind: Literal["error", "panic", "result"]) -> None: ...


class BundleError(Exception):
    """A bundle could not be loaded; ``reason`` is a stable code, the message names the file."""

    def __init__(self, message: str, *, reason: str, result: Literal["rejected", "error"]) -> None:
        super().__init__(message)
        self.reason = reason
        self.result = result


class BundleStore:
    def __init__(
        self,
        bundle: BundleSettings,
        policy: PolicySettings,
        *,
        source: BundleSource | None = None,
        metrics: BundleMetrics | None = None,
        exercise_timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        self._policy = policy
        self._exercise_timeout = exercise_timeout
        self.source = source or DirectorySource(bundle.policies_dir, bundle.profiles_dir)
        self._metrics = metrics
        self._active: ActiveBundle | None = None
        self._error: BundleError | None = None
        self._checked_at: float | None = None
        self._remote: RemoteEngine | None = None
        self._load_lock = asyncio.Lock()

    def current(self) -> ActiveBundle:
        active = self._active  # read once: the caller keeps this object for the whole request
        if active is None:
            why = f"[{self._error.reason}] {self._error}" if self._error else "not loaded yet"
            raise Unavailable(f"no policy bundle is loaded: {why}", reason="no_bundle")
        return active

    def status(self) -> dict[str, Any]:
        """For /readyz: what serves now and why the latest attempt failed, if it did."""
        active, error = self._active, self._error
        signer = active.signer if active else None
        signed_by = {"method": signer.method, "kid": signer.kid, "alg": signer.algorithm} if signer else None
        return {
            "state": "active" if active else "no_bundle",
            "source": self.source.origin,
            "revision": active.revision if active else None,
            "digest": active.digest if active else None,
            "loaded_at": active.loaded_at if active else None,
            "verified": signer is not None,
            "signer": signed_by,
            "last_checked": self._checked_at,
            "last_error": str(error) if error else None,
            "reason": error.reason if error else None,
        }

    async def load(self, *, force: bool = True) -> ActiveBundle | None:
        """Fetch, verify, compile and activate; ``None`` when the source reports no change.

        On failure the last good bundle stays active and ``BundleError`` is raised."""
        async with self._load_lock:  # one load at a time; requests never wait on this
            started = time.perf_counter()
            self._checked_at = time.time()
            try:
                content = await self.source.fetch(force=force)
                if content is None:
                    return None
                if self._active is not None and content.digest == self._active.digest:
                    self._error = None  # the source is back to what serves: nothing to swap
                    return self._active
                # The exercise (a child process, a fraction of a second) runs off the loop;
                # the compile runs on it, because the engine may only ever be used (and
                # dropped) by the thread that made it, and that is the loop's thread.
                await asyncio.to_thread(self._exercise, content)
                bundle = self._build(content)
            except Exception as exc:
                raise self._failed(exc) from exc
            self._activate(bundle, time.perf_counter() - started)
            return bundle

    async def refresh(self, *, force: bool = False) -> None:
        """``load`` for background callers (poller, SIGHUP): failures are already logged."""
        with contextlib.suppress(BundleError):
            await self.load(force=force)

    async def aclose(self) -> None:
        # The embedded engine goes here, on the loop's thread that compiled it (see
        # CompiledPolicy.release); requests still holding the bundle then fail closed.
        if self._active is not None and isinstance(self._active.engine, EmbeddedEngine):
            self._active.engine.release()
        if self._remote is not None:
            await self._remote.aclose()

    def _activate(self, bundle: ActiveBundle, seconds: float) -> None:
        self._active, self._error = bundle, None  # the atomic swap
        if self._metrics is not None:
            self._metrics.observe_bundle_load(True, seconds)
            self._metrics.set_bundle(bundle.revision, bundle.digest)
            self._metrics.set_known_labels(models=bundle.catalog.models, roles=bundle.profiles)
        log.info(
            "bundle %s active (%d roles)",
            bundle.revision,
            len(bundle.profiles),
            extra={"revision": bundle.revision, "digest": bundle.digest, "source": self.source.origin},
        )

    def _failed(self, exc: Exception) -> BundleError:
        error = classify(exc)
        self._error = error
        if self._metrics is not None:
            self._metrics.count_bundle_load(error.result)
        keeping = self._active.revision if self._active else None
        log.error(
            "bundle %s; %s",
            error.result,
            f"keeping revision {keeping}" if keeping else "no bundle is active: refusing traffic",
            extra={
                "reason": error.reason,
                "error": str(error),
                "source": self.source.origin,
                "revision": keeping,
            },
        )
        return error

    def _build(self, content: BundleContent) -> ActiveBundle:
        return ActiveBundle(
            revision=content.revision or content.digest[:12],
            digest=content.digest,
            catalog=content.catalog,
            profiles=dict(content.profiles),
            engine=self._engine(content),
            loaded_at=time.time(),
            signer=content.signer,
        )

    def _exercise(self, content: BundleContent) -> None:
        """Refuse a bundle that fails, crashes or hangs the embedded engine (a child process)."""
        if self._policy.engine == "remote":
            return  # OPA evaluates it, not this process
        data = bundle_data(content.catalog, content.profiles)
        report = exercise(content.policies, content.tests, data, timeout=self._exercise_timeout)
        if report.failed:
            log.warning(
                "bundle %s: %d of its own tests fail (it is loaded anyway): %s",
                content.revision or content.digest[:12],
                len(report.failed),
                ", ".join(report.failed[:5]),
                extra={"failed_tests": list(report.failed)},
            )

    def _engine(self, content: BundleContent) -> PolicyEngine:
        if self._policy.engine == "remote":
            # The OPA server loads the bundle itself; one client serves every revision.
            if not self._policy.opa_url:
                raise ValueError("policy.engine is 'remote' but policy.opa_url is not set")
            if self._remote is None:
                self._remote = RemoteEngine(
                    self._policy.opa_url, timeout_seconds=self._policy.timeout_seconds
                )
            return self._remote
        data = bundle_data(content.catalog, content.profiles)
        on_fault = self._metrics.count_policy_fault if self._metrics is not None else None
        return EmbeddedEngine(
            content.policies, data, cache_size=self._policy.decision_cache_size, on_fault=on_fault
        )


def classify(exc: Exception) -> BundleError:
    """Map what went wrong to a reason code: the metric's result and /readyz's ``reason``."""
    if isinstance(exc, BundleError):
        return exc
    if isinstance(exc, ExerciseError):  # compiled, but crashed, hung or failed its checks
        return BundleError(str(exc), reason=exc.reason, result="rejected")
    if isinstance(exc, SourceError):
        return BundleError(str(exc), reason=exc.reason, result="error")
    if isinstance(exc, SigningError):  # before ValueError: it is one
        return BundleError(str(exc), reason=exc.reason, result="rejected")
    if isinstance(exc, SchemaError):
        return BundleError(str(exc), reason="invalid_profiles", result="rejected")
    if isinstance(exc, Unavailable):  # the policy does not compile
        return BundleError(str(exc), reason="policy_compile_error", result="rejected")
    if isinstance(exc, ValueError):
        return BundleError(str(exc), reason="invalid_bundle", result="rejected")
    # Anything else is a bug or the environment; the bundle is still not used.
    log.exception("unexpected error while loading a bundle", exc_info=exc)
    return BundleError(f"{type(exc).__name__}: {exc}", reason="load_failed", result="error")
