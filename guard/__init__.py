"""Skein's privacy guard: PII detection (Presidio + spaCy NER + validated patterns),
mask / pseudonymize / block, and restoring pseudonyms in responses and streams.

This package never imports ``gateway``. Typical use from the gateway::

    guard = Guard(FileKeyProvider(state_dir), GuardSettings())
    await guard.start()                                    # lifespan
    result = await guard.protect(parts, policy, tenant)   # per request
    restorer = StreamRestorer(result.mapping)              # per streamed response
"""

from guard.detector import Detector, DetectorSettings
from guard.errors import (
    GuardBlocked,
    GuardBusy,
    GuardConfigError,
    GuardError,
    GuardTooLarge,
    GuardUnavailable,
    KeyProviderError,
)
from guard.jsontext import JsonStrings
from guard.keys import FileKeyProvider, KeyProvider
from guard.ollama_ner import OllamaNer, OllamaSettings
from guard.policy import (
    ALL_BUILTIN_ENTITIES,
    DEFAULT_ENTITIES,
    CustomPattern,
    Detection,
    GuardPolicy,
    GuardResult,
    Mode,
)
from guard.pseudonyms import TOKEN_PATTERN, HmacSigner, Signer
from guard.restore import StreamRestorer, json_string_escape, restore
from guard.service import Guard, GuardSettings
from guard.vault import VaultKvKeyProvider, VaultTransitKeyProvider

__all__ = [
    "ALL_BUILTIN_ENTITIES",
    "DEFAULT_ENTITIES",
    "TOKEN_PATTERN",
    "CustomPattern",
    "Detection",
    "Detector",
    "DetectorSettings",
    "FileKeyProvider",
    "Guard",
    "GuardBlocked",
    "GuardBusy",
    "GuardConfigError",
    "GuardError",
    "GuardPolicy",
    "GuardResult",
    "GuardSettings",
    "GuardTooLarge",
    "GuardUnavailable",
    "HmacSigner",
    "JsonStrings",
    "KeyProvider",
    "KeyProviderError",
    "Mode",
    "OllamaNer",
    "OllamaSettings",
    "Signer",
    "StreamRestorer",
    "VaultKvKeyProvider",
    "VaultTransitKeyProvider",
    "json_string_escape",
    "restore",
]
