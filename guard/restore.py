"""Put original values back in place of the tokens issued for this call.

Only tokens in the call's map are replaced, verbatim; a token the model invented or
altered (one character changed, case changed, digest cut short) is left exactly as it is.
Because every issued token has the same fixed-length suffix, no token is a prefix of
another, which is what lets :class:`StreamRestorer` decide with a bounded hold-back.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping

Escape = Callable[[str], str]


def json_string_escape(value: str) -> str:
    """Escape a value for insertion *inside* a JSON string literal (tool-call arguments)."""
    return json.dumps(value, ensure_ascii=False)[1:-1]


def _compile(mapping: Mapping[str, str]) -> re.Pattern[str] | None:
    if not mapping:
        return None
    # Longest first is belt and braces: issued tokens never prefix each other.
    keys = sorted(mapping, key=len, reverse=True)
    return re.compile("|".join(re.escape(k) for k in keys))


def restore(text: str, mapping: Mapping[str, str], escape: Escape | None = None) -> str:
    """Restore a complete (non-streamed) text."""
    pattern = _compile(mapping)
    if pattern is None or "_v" not in text:
        return text
    if escape is None:
        return pattern.sub(lambda m: mapping[m.group()], text)
    return pattern.sub(lambda m: escape(mapping[m.group()]), text)


class StreamRestorer:
    """Incremental restore for streamed deltas (SSE content or tool-call argument chunks).

    ``feed`` returns at once everything that cannot be the start of an issued token and
    holds back only a tail that is a proper prefix of one (at most the longest token
    minus one character), so text without tokens passes through with no delay, and a
    token split across any number of chunks at any offset is restored whole. ``flush``
    releases the tail at the end of the stream. Concatenated output always equals
    ``restore(concatenated input)``.
    """

    __slots__ = ("_escape", "_firsts", "_mapping", "_max_hold", "_pattern", "_pending", "_prefixes")

    def __init__(self, mapping: Mapping[str, str], escape: Escape | None = None) -> None:
        self._mapping = dict(mapping)
        self._escape = escape
        self._pattern = _compile(self._mapping)
        self._prefixes = frozenset(t[:n] for t in self._mapping for n in range(1, len(t)))
        self._firsts = frozenset(t[0] for t in self._mapping)
        self._max_hold = max((len(t) - 1 for t in self._mapping), default=0)
        self._pending = ""

    def feed(self, chunk: str) -> str:
        if self._pattern is None:
            return chunk
        buffer = self._pending + chunk if self._pending else chunk
        if not buffer:
            return ""
        last_end = 0
        out: list[str] = []
        if "_v" in buffer:
            for match in self._pattern.finditer(buffer):
                out.append(buffer[last_end : match.start()])
                out.append(self._value(match.group()))
                last_end = match.end()
        cut = self._hold_from(buffer, last_end)
        out.append(buffer[last_end:cut])
        self._pending = buffer[cut:]
        return "".join(out)

    def flush(self) -> str:
        rest, self._pending = self._pending, ""
        return rest

    def _value(self, token: str) -> str:
        value = self._mapping[token]
        return self._escape(value) if self._escape is not None else value

    def _hold_from(self, buffer: str, floor: int) -> int:
        """Smallest index >= floor whose suffix could still grow into an issued token."""
        size = len(buffer)
        start = max(floor, size - self._max_hold)
        prefixes, firsts = self._prefixes, self._firsts
        for index in range(start, size):
            if buffer[index] in firsts and buffer[index:] in prefixes:
                return index
        return size
