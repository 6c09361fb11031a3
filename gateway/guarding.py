"""The privacy guard for the app's lifespan, built from settings (the mask stage uses it:
``gateway/stages/mask.py``)."""

from __future__ import annotations

import os
from pathlib import Path

from gateway.settings import GuardSettings
from guard import FileKeyProvider, Guard, KeyProvider, OllamaNer, OllamaSettings
from guard import GuardSettings as EngineSettings
from guard.detector import DetectorSettings
from guard.pool import Backend


def build_guard(settings: GuardSettings, state_dir: Path, backend: Backend | None = None) -> Guard:
    """The guard for the app's lifespan (the caller starts and closes it). ``backend``
    replaces the worker pool (tests share one loaded model)."""
    engine = EngineSettings(
        detector=DetectorSettings(model=settings.model),
        executor=settings.executor,
        workers=settings.workers,
        timeout_s=settings.timeout_seconds,
        max_chars=settings.max_chars,
        per_caller=settings.per_caller,
        max_pending=settings.max_pending,
        queue_timeout_s=settings.queue_timeout_seconds,
        batch_chars=settings.batch_chars,
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
