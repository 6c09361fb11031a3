"""A bounded LRU cache of decisions, keyed by the canonical policy input minus ``time``.

Why ``time`` is left out: the pipeline stamps every input with the current time, so a key
with it would never hit. The price is a rule: **policies must not depend on sub-minute
time** (a decision cached at 10:00:05 may be served at 10:00:59; entries live for at most
``ttl_seconds``, 60 by default, so minute-level rules such as office hours still work).
Everything else that can change a decision (roles, model, max_tokens, spend) is in the key.
The cache belongs to one compiled bundle, so a bundle swap starts with an empty cache.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import orjson

from gateway.domain import Decision


def cache_key(policy_input: dict[str, Any]) -> bytes:
    """Canonical bytes of the input without ``time`` (sorted keys, so dict order is irrelevant)."""
    if "time" in policy_input:
        policy_input = {k: v for k, v in policy_input.items() if k != "time"}
    return orjson.dumps(policy_input, option=orjson.OPT_SORT_KEYS)


class DecisionCache:
    """Least-recently-used, bounded by ``size`` entries; ``size == 0`` disables it."""

    def __init__(
        self, size: int, ttl_seconds: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.size = size
        self._ttl = ttl_seconds
        self._clock = clock
        self._entries: OrderedDict[bytes, tuple[float, Decision]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: bytes) -> Decision | None:
        entry = self._entries.get(key)
        if entry is None or self._clock() - entry[0] > self._ttl:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry[1]

    def put(self, key: bytes, decision: Decision) -> None:
        if self.size <= 0:
            return
        self._entries[key] = (self._clock(), decision)
        self._entries.move_to_end(key)
        if len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
