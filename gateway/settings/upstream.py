"""The ``providers`` and ``routing`` sections: the upstream providers, and how calls are spread
over their deployments, retried and sent to fallbacks."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from gateway.settings.base import Strict


class ProviderSettings(Strict):
    """One upstream provider. ``dialect`` is the API it speaks (``openai``: base_url ends in
    ``/v1``; ``anthropic``: ``https://api.anthropic.com``; ``ollama``: ``http://host:11434``);
    a model route is served by a provider that speaks its dialect."""

    base_url: str
    dialect: Literal["openai", "anthropic", "ollama", "echo"] = "openai"
    # Also serves the OpenAI API under this path of base_url (Ollama and Anthropic do, at /v1):
    # then /v1/chat/completions can reach this provider's models too.
    openai_path: str | None = Field(None, pattern=r"^/[A-Za-z0-9/_.-]*$")
    api_key_env: str | None = None
    connect_timeout_seconds: float = Field(5.0, gt=0)
    read_timeout_seconds: float = Field(120.0, gt=0)  # between two reads; streams may last longer
    # A buffered (non-stream) answer: complete within this time of sending the request (504
    # upstream_timeout), and no larger than this (502 upstream_response_too_large).
    response_timeout_seconds: float = Field(300.0, gt=0)
    max_response_bytes: int = Field(32 * 1024 * 1024, gt=0)
    # A stream: no single event (SSE: bytes between two blank lines; NDJSON: one line) larger
    # than this (the stream ends with an upstream_event_too_large error event).
    max_event_bytes: int = Field(1024 * 1024, gt=0)
    # Another deployment (region, key) of this catalog provider: policy judges that provider
    # (its allowlists, forbidden lists, local_only) for calls this entry serves.
    catalog_provider: str | None = None


class Deployment(Strict):
    """One deployment of a catalog model: a configured provider entry, and its share of calls."""

    provider: str  # a key of ``providers``
    weight: float = Field(1.0, gt=0)


class RoutingSettings(Strict):
    """Retries and fallbacks in the forward path (docs/routing.md).

    A failed attempt (429, a 5xx, a connection error or a timeout before the answer's head)
    is retried on the same model after a backoff (or the provider's Retry-After), then the
    call falls back to the model's alternatives in order. Every alternative is decided by
    policy again as if the caller had named it: a model or provider the caller may not use
    is skipped, so a fallback never crosses the caller's policy. Off by default (no retries,
    no fallbacks): a failing provider's answer reaches the caller as before.
    """

    retries: int = Field(0, ge=0, le=10)  # further attempts on one model after its first fails
    backoff_seconds: float = Field(0.25, ge=0)  # the first wait; doubled per retry, with jitter
    max_backoff_seconds: float = Field(4.0, ge=0)
    max_retry_after_seconds: float = Field(10.0, ge=0)  # a longer Retry-After: fall back, do not wait
    deadline_seconds: float = Field(30.0, gt=0)  # no attempt starts later than this after the first
    fallbacks: dict[str, tuple[str, ...]] = {}  # catalog model -> alternatives, in order
    # Several deployments of one model (regions, keys): each a provider entry that serves the
    # model's catalog provider (itself, or an entry whose ``catalog_provider`` names it).
    deployments: dict[str, tuple[Deployment, ...]] = {}
    strategy: Literal["weighted", "least_in_flight"] = "weighted"
    breaker_failures: int = Field(0, ge=0)  # failures in a row that open a breaker; 0: no breakers
    breaker_cooldown_seconds: float = Field(30.0, gt=0)  # open this long, then one probe at a time
