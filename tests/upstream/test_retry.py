"""Which upstream failures are retried, and how long the gateway waits (gateway/upstream/retry.py)."""

from __future__ import annotations

import random

import pytest

from gateway.upstream.retry import backoff_seconds, retry_after_seconds


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({}, None),
        ({"retry-after": "3"}, 3.0),
        ({"retry-after": " 2 "}, 2.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),  # OpenAI's finer header wins
        ({"retry-after-ms": "soon", "retry-after": "9"}, 9.0),
        ({"retry-after": "-1"}, None),
        ({"retry-after": "1e9"}, None),
        ({"retry-after": "9" * 40}, None),
        ({"retry-after": "٣"}, None),  # a non-ASCII digit is not a number here
        ({"retry-after": "soon"}, None),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),  # in the past: at once
    ],
)
def test_retry_after(headers: dict[str, str], seconds: float | None) -> None:
    assert retry_after_seconds(headers) == seconds


def test_retry_after_as_a_date() -> None:
    now = 1_445_412_470.0  # 2015-10-21 07:27:50 GMT
    assert retry_after_seconds({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, now) == 10.0


def test_backoff_doubles_with_jitter_and_a_cap() -> None:
    rng = random.Random(7)
    for retry, ceiling in ((0, 0.25), (1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (10, 4.0), (500, 4.0)):
        for _ in range(50):
            wait = backoff_seconds(retry, 0.25, 4.0, rng)
            assert ceiling / 2 <= wait <= ceiling
