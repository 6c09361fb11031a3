from __future__ import annotations

import pytest

from gateway.stages.decide import coarse, coarse_usage


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, 0.0),
        (-1, 0.0),
        (12.34, 13.0),
        (12.0, 12.0),
        (0.01234, 0.013),
        (99.1, 100.0),
        (40000, 40000.0),
        (40001, 41000.0),
    ],
)
def test_coarse_rounds_up_to_two_significant_digits(value: float, expected: float) -> None:
    assert coarse(value) == pytest.approx(expected)


def test_coarse_never_rounds_down() -> None:
    for cents in range(1, 5000):
        value = cents / 100
        assert coarse(value) >= value


def test_coarse_usage_keeps_keys() -> None:
    assert coarse_usage({"spend_today_usd": 1.234, "tokens_today": 0}) == {
        "spend_today_usd": 1.3,
        "tokens_today": 0.0,
    }
