"""When a failed upstream attempt deserves another: which failures, how long to wait.

Only failures that say nothing about the request itself are retried: 429 (the provider is
busy), 5xx other than "not implemented", a connection refused or reset, a timeout. A 4xx is
the caller's (or the gateway's) mistake and would fail again the same way. The wait is the
provider's own ``Retry-After`` (or OpenAI's ``retry-after-ms``) when it sent one, else an
exponential backoff with jitter, so replicas that failed together do not retry together.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime

RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
RETRYABLE_REASONS = frozenset(
    {"upstream_unreachable", "upstream_reset", "upstream_timeout", "upstream_circuit_open"}
)
CIRCUIT_OPEN = "upstream_circuit_open"  # not sent at all: the deployment's breaker is open
_MAX_DIGITS = 9  # a Retry-After beyond ~30 years is a broken header, not a plan


def retry_after_seconds(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """The wait a provider asked for (``retry-after-ms``, ``retry-after`` in seconds or as an
    HTTP date), or None when it asked for none or said something unreadable."""
    millis = headers.get("retry-after-ms")
    if millis is not None:
        value = _number(millis)
        if value is not None:
            return value / 1000.0
    raw = headers.get("retry-after")
    if raw is None:
        return None
    value = _number(raw)
    if value is not None:
        return value
    try:
        when = parsedate_to_datetime(raw.strip()).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return max(0.0, when - (time.time() if now is None else now))


def _number(text: str) -> float | None:
    text = text.strip()
    whole, _, fraction = text.partition(".")
    if not whole.isascii() or not whole.isdigit() or len(whole) > _MAX_DIGITS:
        return None
    if fraction and (not fraction.isascii() or not fraction.isdigit()):
        return None
    return float(text)


def backoff_seconds(retry: int, base: float, cap: float, rng: random.Random) -> float:
    """The wait before retry number ``retry`` (0 first): ``base * 2**retry`` capped, and a
    random point in its upper half (jitter that still waits at least half the backoff)."""
    ceiling = min(cap, base * (2 ** min(retry, 30)))
    return rng.uniform(ceiling / 2, ceiling)
