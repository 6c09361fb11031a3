"""Optional second-opinion NER through a local Ollama model.

Off unless a policy sets ``second_opinion`` and the guard was given an ``OllamaNer``.
It can only add detections (names the small spaCy model missed); if the model is slow,
down or answers nonsense, the first opinion stands, so it never weakens fail-closed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from dataclasses import dataclass
from typing import Any

import ollama

from guard.policy import Detection

log = logging.getLogger(__name__)

PROMPT = (
    "List every person name and every place name (city, country, address) in the text "
    'below. Answer only with JSON: {"entities": [{"type": "PERSON" or "LOCATION", '
    '"text": exact substring}]}. Use an empty list if there are none.\n\nTEXT:\n'
)
_TYPES = frozenset({"PERSON", "LOCATION"})
SCORE = 0.7


@dataclass(frozen=True, slots=True)
class OllamaSettings:
    model: str = "llama3.2:1b"
    host: str | None = None  # None: the ollama client reads OLLAMA_HOST
    timeout_s: float = 5.0
    max_chars: int = 8000  # longer texts are not sent: latency would be unbounded


class OllamaNer:
    def __init__(self, settings: OllamaSettings, client: Any | None = None) -> None:
        self.settings = settings
        self._client = client or ollama.AsyncClient(host=settings.host, timeout=settings.timeout_s)

    async def aclose(self) -> None:
        close = getattr(self._client, "close", None)  # test doubles may have none
        if close is not None:
            await close()

    async def find(self, text: str) -> list[Detection]:
        if not text.strip() or len(text) > self.settings.max_chars:
            return []
        try:
            response = await asyncio.wait_for(
                self._client.generate(
                    model=self.settings.model, prompt=PROMPT + text, format="json", options={"temperature": 0}
                ),
                self.settings.timeout_s,
            )
            entities = json.loads(response["response"]).get("entities", [])
        except (TimeoutError, ollama.ResponseError, ValueError, AttributeError, OSError) as exc:
            log.warning("ollama second opinion skipped: %s", type(exc).__name__)
            return []
        return locate(text, entities)


def locate(text: str, entities: Any) -> list[Detection]:
    """Every whole-word occurrence of each returned substring; invented text is ignored."""
    found: list[Detection] = []
    if not isinstance(entities, list):
        return found
    for item in entities:
        if not isinstance(item, dict):
            continue
        kind, value = item.get("type"), item.get("text")
        if kind not in _TYPES or not isinstance(value, str) or len(value.strip()) < 2:
            continue
        pattern = re.compile(r"(?<!\w)" + re.escape(value.strip()) + r"(?!\w)")
        found.extend(Detection(kind, m.start(), m.end(), SCORE) for m in pattern.finditer(text))
    return found
