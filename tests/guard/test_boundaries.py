"""PII split across the parts of one call, and PII inside base64 text."""

from __future__ import annotations

import base64

import pytest

from guard import Guard, GuardBlocked, GuardPolicy, Mode
from guard.encoded import find


async def test_an_ssn_split_over_two_messages_is_masked_in_both(guard: Guard) -> None:
    result = await guard.protect(["my SSN is 123-45", "-6789 thanks"], GuardPolicy(mode=Mode.MASK), "acme")
    assert result.parts == ("my SSN is <US_SSN>", "<US_SSN> thanks")


async def test_an_email_across_two_parts_is_pseudonymized_and_restorable(guard: Guard) -> None:
    parts = ["write to ann.lee@exa", "mple.com today"]
    result = await guard.protect(parts, GuardPolicy(mode=Mode.PSEUDONYMIZE), "acme")
    assert "ann" not in result.parts[0] and "mple.com" not in result.parts[1]
    restored = list(result.parts)
    for token, value in result.mapping.items():
        restored = [p.replace(token, value) for p in restored]
    assert restored == parts


async def test_a_context_word_in_the_previous_part_counts(guard: Guard) -> None:
    parts = ["social security number:", "123456789"]
    result = await guard.protect(parts, GuardPolicy(mode=Mode.MASK), "acme")
    assert result.parts == ("social security number:", "<US_SSN>")


async def test_block_mode_refuses_a_split_value(guard: Guard) -> None:
    with pytest.raises(GuardBlocked):
        await guard.protect(["card 4111 1111", " 1111 1111"], GuardPolicy(mode=Mode.BLOCK), "acme")


async def test_separate_parts_without_pii_stay_untouched(guard: Guard) -> None:
    parts = ["order 123-45", "was shipped", "on 2024-11-03"]
    result = await guard.protect(parts, GuardPolicy(mode=Mode.MASK), "acme")
    assert result.parts == tuple(parts)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


async def test_base64_text_is_decoded_masked_and_reencoded_when_asked(guard: Guard) -> None:
    blob = b64("Contact ann.lee@example.com about SSN 123-45-6789 please")
    text = f"attachment: {blob} end"
    plain = await guard.protect([text], GuardPolicy(mode=Mode.MASK), "acme")
    assert plain.parts == (text,) and not plain.counts  # off by default
    result = await guard.protect([text], GuardPolicy(mode=Mode.MASK, decode_base64=True), "acme")
    assert result.counts == {"EMAIL_ADDRESS": 1, "US_SSN": 1}
    (reencoded,) = find(result.parts[0])
    assert reencoded.text == "Contact <EMAIL_ADDRESS> about SSN <US_SSN> please"


async def test_base64_pii_blocks_in_block_mode(guard: Guard) -> None:
    text = "see " + b64("my card is 4111 1111 1111 1111, thanks a lot")
    with pytest.raises(GuardBlocked):
        await guard.protect([text], GuardPolicy(mode=Mode.BLOCK, decode_base64=True), "acme")


def test_only_runs_that_decode_to_text_are_blobs() -> None:
    assert find("sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == []
    assert find("Supercalifragilisticexpialidocious is long") == []
    assert find(base64.b64encode(bytes(range(256))).decode()) == []  # binary
    assert [b.text for b in find("x " + b64("hello there, general") + " y")] == ["hello there, general"]


def test_a_value_whole_in_one_part_does_not_swallow_its_neighbour() -> None:
    """A JSON key beside its value ("email" + "ann@example.com") is not one address."""
    from guard.boundaries import junctions, merge
    from guard.policy import Detection

    parts = ["email", "ann.lee@example.com"]
    own = [[], [Detection("EMAIL_ADDRESS", 0, len(parts[1]), 1.0)]]
    seams = junctions(parts)
    glued = [[Detection("EMAIL_ADDRESS", 0, len("email" + parts[1]), 1.0)]]
    assert merge(parts, own, seams, glued) == [[], own[1]]
