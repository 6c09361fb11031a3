"""Every model route the gateway serves, one dialect each. Adding a dialect is a new module
in this package and one line here; the app builds its routes (and the fast path) from this."""

from __future__ import annotations

from gateway.dialects import anthropic, ollama, openai, responses
from gateway.dialects.base import Dialect

MODEL_ROUTES: tuple[Dialect, ...] = (
    openai.CHAT,
    openai.EMBEDDINGS,
    responses.RESPONSES,
    anthropic.MESSAGES,
    anthropic.COUNT_TOKENS,
    ollama.CHAT,
    ollama.GENERATE,
    ollama.EMBED,
)
