"""``parse_decision``: the one place that decides what a valid decision is (fail closed)."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.errors import Reason, Unavailable
from gateway.policy.engine import parse_decision

VALID: dict[str, Any] = {
    "allow": True,
    "reasons": [{"code": "model_downshifted", "message": "m"}],
    "model": "gpt-4o-mini",
    "guard": {"mode": "mask", "entities": ["EMAIL_ADDRESS"]},
    "approval_required": False,
    "models": [],
}


def test_valid_decision() -> None:
    decision = parse_decision(VALID)
    assert decision.allow and decision.model == "gpt-4o-mini"
    assert decision.reasons == (Reason("model_downshifted", "m"),)
    assert decision.guard.mode == "mask" and decision.guard.entities == ("EMAIL_ADDRESS",)


def test_missing_guard_means_block() -> None:
    assert parse_decision({"allow": False}).guard.mode == "block"


@pytest.mark.parametrize(
    "raw",
    [
        None,
        [],
        {},
        {**VALID, "allow": "true"},
        {**VALID, "reasons": "no"},
        {**VALID, "reasons": [{"message": "no code"}]},
        {**VALID, "guard": {"mode": "shred"}},
        {**VALID, "models": [1]},
        {**VALID, "model": 5},
        {**VALID, "approval_required": None},
    ],
)
def test_malformed_is_policy_undefined(raw: Any) -> None:
    with pytest.raises(Unavailable) as info:
        parse_decision(raw)
    assert info.value.reason == "policy_undefined"
