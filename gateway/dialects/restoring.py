"""Pseudonyms back to the caller's values: in whole answers and, piece by piece, in streams.

An answer is restored everywhere it carries text (every string and key), so no field a
dialect adds later can keep a pseudonym by accident. Strings that hold a JSON document
(tool-call ``arguments``) get the original values JSON-escaped, so the document stays valid.
In a stream, each piece of text that can be split across events (a message's content, one
tool call's argument deltas) has its own ``StreamRestorer``, kept in a :class:`Restorers`
table under a key the dialect chooses, so a pseudonym split at any offset is restored whole.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

from guard import StreamRestorer, json_string_escape, restore

#: Every issued pseudonym contains this (``PERSON_v1_3f9a1c0d``): text without it needs no work.
TOKEN_MARK = "_v"
TOKEN_MARK_BYTES = b"_v"


def restore_tree(node: Any, mapping: Mapping[str, str], json_text: frozenset[str] = frozenset()) -> Any:
    """``node`` with every string value and key restored (a new tree; ``node`` is not changed)."""
    if isinstance(node, str):
        return restore(node, mapping) if TOKEN_MARK in node else node
    if isinstance(node, list):
        return [restore_tree(item, mapping, json_text) for item in node]
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if isinstance(value, str) and key in json_text:
                out[_key(key, mapping)] = restore(value, mapping, escape=json_string_escape)
            else:
                out[_key(key, mapping)] = restore_tree(value, mapping, json_text)
        return out
    return node


def _key(key: str, mapping: Mapping[str, str]) -> str:
    return restore(key, mapping) if TOKEN_MARK in key else key


class Restorers:
    """One ``StreamRestorer`` per piece of streamed text, created on first use."""

    def __init__(self, mapping: Mapping[str, str]) -> None:
        self._mapping = mapping
        self._table: dict[Hashable, StreamRestorer] = {}

    def feed(self, key: Hashable, text: str, *, json: bool = False) -> str:
        restorer = self._table.get(key)
        if restorer is None:
            escape = json_string_escape if json else None
            restorer = self._table[key] = StreamRestorer(self._mapping, escape=escape)
        return restorer.feed(text)

    def flush(self, key: Hashable) -> str:
        restorer = self._table.get(key)
        return restorer.flush() if restorer is not None else ""

    def flush_all(self) -> dict[Hashable, str]:
        """Everything still held back, by key (the stream ended without closing its pieces)."""
        held = {key: restorer.flush() for key, restorer in self._table.items()}
        return {key: text for key, text in held.items() if text}

    def held(self) -> list[Hashable]:
        """The keys of every piece seen so far."""
        return list(self._table)
