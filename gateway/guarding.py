"""The mask stage: turns the decision's guard spec and the caller's profiles into a guard
policy, runs the guard over a body's text slots, and translates the guard's errors.

The guard library (``guard/``) knows nothing of profiles or the gateway; this module is the
only place that joins them. A role that asks for masking when the guard cannot run is
refused (503), unless every one of the caller's profiles explicitly says ``fail_open``.
"""

from __future__ import annotations

import os
from pathlib import Path

from gateway.adapters.openai_text import TextSlots
from gateway.bundle.store import ActiveBundle
from gateway.domain import GuardSpec, Principal
from gateway.errors import BadRequest, Unavailable
from gateway.settings import GuardSettings
from guard import (
    CustomPattern,
    FileKeyProvider,
    Guard,
    GuardBlocked,
    GuardConfigError,
    GuardError,
    GuardPolicy,
    GuardResult,
    KeyProvider,
    OllamaNer,
    OllamaSettings,
)
from guard import GuardSettings as EngineSettings
from guard.detector import DetectorSettings
from guard.pool import Backend
from signing.schema import RoleProfile

_POLICY_CACHE_LIMIT = 1024


def build_guard(settings: GuardSettings, state_dir: Path, backend: Backend | None = None) -> Guard:
    """The guard for the app's lifespan (the caller starts and closes it). ``backend``
    replaces the worker pool (tests share one loaded model)."""
    engine = EngineSettings(
        detector=DetectorSettings(model=settings.model),
        executor=settings.executor,
        workers=settings.workers,
        timeout_s=settings.timeout_seconds,
    )
    second = settings.second_opinion
    ollama = (
        OllamaNer(OllamaSettings(second.model, second.host, second.timeout_seconds, second.max_chars))
        if second is not None
        else None
    )
    return Guard(_key_provider(settings, state_dir), engine, second_opinion=ollama, backend=backend)


def _key_provider(settings: GuardSettings, state_dir: Path) -> KeyProvider:
    if settings.keys == "file":
        return FileKeyProvider(state_dir)
    import hvac  # only deployments that use Vault pay for importing it

    from guard import VaultKvKeyProvider, VaultTransitKeyProvider

    client = hvac.Client(url=settings.vault_url, token=os.environ.get(settings.vault_token_env))
    if settings.keys == "vault-kv":
        return VaultKvKeyProvider(
            client, mount=settings.vault_mount or "secret", path_prefix=settings.vault_path
        )
    return VaultTransitKeyProvider(
        client,
        mount=settings.vault_mount or "transit",
        key_prefix=settings.vault_path.replace("/", "-") + "-",
    )


class GuardStage:
    def __init__(self, guard: Guard | None) -> None:
        self._guard = guard
        self._policies: dict[tuple[object, ...], GuardPolicy] = {}

    def policy(self, bundle: ActiveBundle, principal: Principal, spec: GuardSpec) -> GuardPolicy | None:
        """The guard policy for this call, or None when the decision says ``off``."""
        if spec.mode == "off":
            return None
        key = (bundle.revision, principal.roles, spec.mode, spec.entities)
        policy = self._policies.get(key)
        if policy is None:
            profiles = [bundle.profiles[r] for r in principal.roles if r in bundle.profiles]
            policy = _policy_from(spec, profiles)
            if len(self._policies) >= _POLICY_CACHE_LIMIT:
                self._policies.clear()
            self._policies[key] = policy
        return policy

    async def protect(self, slots: TextSlots, policy: GuardPolicy, tenant: str) -> GuardResult | None:
        """Masks ``slots`` in place; returns the result (counts, pseudonym map) or None if no text."""
        if not slots.texts:
            return None
        if self._guard is None:
            if policy.fail_open:
                return None
            raise Unavailable("the privacy guard is disabled on this gateway", reason="guard_unavailable")
        try:
            result = await self._guard.protect(slots.texts, policy, tenant)
        except GuardBlocked as exc:
            raise BadRequest(
                f"the request contains data this role may not send: {', '.join(exc.entity_types)}",
                reason="pii_blocked",
                details={"entities": list(exc.entity_types)},
            ) from exc
        except GuardConfigError as exc:
            raise Unavailable(f"guard misconfigured: {exc}", reason="guard_misconfigured") from exc
        except GuardError as exc:
            raise Unavailable(
                "the privacy guard could not check this request", reason="guard_unavailable"
            ) from exc
        if result.parts != tuple(slots.texts):
            slots.write_back(result.parts)
        return result


def _policy_from(spec: GuardSpec, profiles: list[RoleProfile]) -> GuardPolicy:
    """Several roles: every pattern applies, a term is allowed only if every role allows it,
    the guard fails open only if every role says so, and asks for a second opinion if any
    role does (more detection is the stricter choice)."""
    patterns = {
        (p.entity, p.regex): CustomPattern(p.entity, p.regex, p.score)
        for prof in profiles
        for p in prof.privacy.patterns
    }
    terms = [set(prof.privacy.allow_terms) for prof in profiles]
    allowed = sorted(set.intersection(*terms)) if terms else []
    entities = spec.entities or tuple(e for prof in profiles for e in prof.privacy.entities)
    return GuardPolicy.build(
        spec.mode,
        entities=set(entities) if entities else None,
        patterns=list(patterns.values()),
        allow_list=allowed,
        fail_open=bool(profiles) and all(prof.privacy.fail_open for prof in profiles),
        second_opinion=any(prof.privacy.second_opinion for prof in profiles),
    )
