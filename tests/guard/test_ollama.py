"""Second-opinion NER: parsing always; a real model only when OLLAMA_HOST is set."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from guard import FileKeyProvider, Guard, GuardPolicy, GuardSettings, OllamaNer, OllamaSettings
from guard.detector import Detector
from guard.ollama_ner import locate
from guard.pool import ThreadBackend


def test_locate_finds_whole_words_only() -> None:
    text = "Ann met Annabel in Rome."
    found = locate(text, [{"type": "PERSON", "text": "Ann"}, {"type": "LOCATION", "text": "Rome"}])
    assert [(d.entity, text[d.start : d.end]) for d in found] == [("PERSON", "Ann"), ("LOCATION", "Rome")]


def test_locate_ignores_nonsense() -> None:
    junk: list[Any] = [{"type": "PERSON", "text": "Nobody"}, {"type": "SSN", "text": "x"}, "str", {"text": 3}]
    assert locate("hello", junk) == [] and locate("hello", {"not": "a list"}) == []


class FailingClient:
    async def generate(self, **kwargs: Any) -> Any:
        raise OSError("connection refused")


async def test_failure_adds_nothing() -> None:
    assert await OllamaNer(OllamaSettings(), client=FailingClient()).find("Ann met Bob") == []


@pytest.mark.skipif(
    not os.environ.get("OLLAMA_HOST"), reason="needs a real Ollama: set OLLAMA_HOST (and OLLAMA_MODEL)"
)
async def test_real_ollama() -> None:
    settings = OllamaSettings(model=os.environ.get("OLLAMA_MODEL", "llama3.2:1b"), timeout_s=60)
    found = await OllamaNer(settings).find("Yesterday Margaret Okonkwo flew from Lagos to Oslo.")
    assert any(d.entity == "PERSON" for d in found)


class FixedClient:
    async def generate(self, **kwargs: Any) -> Any:
        entities = [{"type": "PERSON", "text": "Zork"}, {"type": "PERSON", "text": "Skein"}]
        return {"response": json.dumps({"entities": entities})}


async def test_second_opinion_adds_names_but_respects_the_allow_list(
    detector: Detector, tmp_path: Path
) -> None:
    settings = GuardSettings(executor="thread")
    second = OllamaNer(OllamaSettings(), client=FixedClient())
    backend = ThreadBackend(settings.detector, detector=detector)
    async with Guard(FileKeyProvider(tmp_path), settings, second_opinion=second, backend=backend) as guard:
        policy = GuardPolicy.build("mask", allow_list=["Skein"], second_opinion=True)
        result = await guard.protect(["Zork loves Skein"], policy, "acme")
        assert result.parts == ("<PERSON> loves Skein",)
        plain = await guard.protect(["Zork loves Skein"], GuardPolicy.build("mask"), "acme")
        assert plain.parts == ("Zork loves Skein",)  # off unless the policy asks for it
