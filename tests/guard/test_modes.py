"""Each mode through the async facade."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from guard import (
    TOKEN_PATTERN,
    FileKeyProvider,
    Guard,
    GuardBlocked,
    GuardPolicy,
    GuardSettings,
    Mode,
    restore,
)
from guard.detector import Detector
from guard.pool import ThreadBackend

PROMPT = "I'm John Smith, mail john@acme.com, SSN 123-45-6789, card 5425-2334-3010-9903."


async def test_off_skips_analysis(guard: Guard) -> None:
    result = await guard.protect([PROMPT], GuardPolicy(mode=Mode.OFF), "acme")
    assert result.parts == (PROMPT,) and result.counts == {} and result.mapping == {}


async def test_detect_counts_only(guard: Guard) -> None:
    result = await guard.protect([PROMPT], GuardPolicy(mode=Mode.DETECT), "acme")
    assert result.parts == (PROMPT,)
    assert result.counts == {"PERSON": 1, "EMAIL_ADDRESS": 1, "US_SSN": 1, "CREDIT_CARD": 1}


async def test_mask(guard: Guard) -> None:
    result = await guard.protect([PROMPT, "no pii here"], GuardPolicy(mode=Mode.MASK), "acme")
    assert result.parts == (
        "I'm <PERSON>, mail <EMAIL_ADDRESS>, SSN <US_SSN>, card <CREDIT_CARD>.",
        "no pii here",
    )
    assert result.mapping == {}


async def test_pseudonymize_round_trip(guard: Guard) -> None:
    result = await guard.protect([PROMPT], GuardPolicy(mode=Mode.PSEUDONYMIZE), "acme")
    masked = result.parts[0]
    for value in ("John Smith", "john@acme.com", "123-45-6789", "5425-2334-3010-9903"):
        assert value not in masked
    tokens = TOKEN_PATTERN.findall(masked)
    assert len(tokens) == 4 and set(tokens) == set(result.mapping)
    assert all(re.fullmatch(r"[A-Z_]+_v1_[0-9a-f]{8}", t) for t in tokens)
    assert restore(masked, result.mapping) == PROMPT


async def test_pseudonyms_are_deterministic_per_tenant(guard: Guard) -> None:
    policy = GuardPolicy(mode=Mode.PSEUDONYMIZE)
    first = await guard.protect(["mail john@acme.com"], policy, "acme")
    again = await guard.protect(["reply to john@acme.com please"], policy, "acme")
    other = await guard.protect(["mail john@acme.com"], policy, "globex")
    assert set(first.mapping) == set(again.mapping)
    assert set(first.mapping).isdisjoint(other.mapping)


async def test_same_value_same_token_within_call(guard: Guard) -> None:
    result = await guard.protect(["ask sarah", "sarah said yes"], GuardPolicy(mode=Mode.PSEUDONYMIZE), "acme")
    assert result.counts == {"PERSON": 2} and len(result.mapping) == 1


async def test_block_reports_types_not_values(guard: Guard) -> None:
    with pytest.raises(GuardBlocked) as caught:
        await guard.protect([PROMPT], GuardPolicy(mode=Mode.BLOCK), "acme")
    assert caught.value.entity_types == ("CREDIT_CARD", "EMAIL_ADDRESS", "PERSON", "US_SSN")
    assert "john" not in str(caught.value).lower() and "6789" not in str(caught.value)


async def test_block_passes_clean_text(guard: Guard) -> None:
    result = await guard.protect(["what is a mutex?"], GuardPolicy(mode=Mode.BLOCK), "acme")
    assert result.parts == ("what is a mutex?",)


async def test_key_rotation_changes_version(detector: Detector, tmp_path: Path) -> None:
    keys = FileKeyProvider(tmp_path)
    settings = GuardSettings(executor="thread")
    async with Guard(keys, settings, backend=ThreadBackend(settings.detector, detector=detector)) as guard:
        policy = GuardPolicy(mode=Mode.PSEUDONYMIZE)
        before = await guard.protect(["mail john@acme.com"], policy, "acme")
        assert keys.rotate("acme") == 2
        after = await guard.protect(["mail john@acme.com"], policy, "acme")
    assert "_v1_" in next(iter(before.mapping)) and "_v2_" in next(iter(after.mapping))
