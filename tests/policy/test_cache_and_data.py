"""The decision cache's bounds and TTL."""

from __future__ import annotations

from gateway.domain import Decision
from gateway.policy.cache import DecisionCache, cache_key


def test_key_is_canonical_and_ignores_time() -> None:
    a = cache_key({"b": 1, "a": {"y": 2, "x": 1}, "time": "10:00"})
    b = cache_key({"a": {"x": 1, "y": 2}, "time": "10:01", "b": 1})
    assert a == b


def test_entries_expire() -> None:
    now = [0.0]
    cache = DecisionCache(4, ttl_seconds=60, clock=lambda: now[0])
    cache.put(b"k", Decision(allow=True))
    now[0] = 59
    assert cache.get(b"k") is not None
    now[0] = 121
    assert cache.get(b"k") is None
