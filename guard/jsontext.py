"""Guarding string values inside a JSON document carried as a string (tool-call arguments,
MCP tool arguments and results): mask the values, keep the document valid JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class JsonStrings:
    """The string leaves of a parsed JSON document, in document order.

    Usage: ``doc = JsonStrings.parse(arguments)``; put ``doc.parts`` through the guard with
    the other parts of the request; ``doc.rebuild(masked_parts)`` is the new argument
    string. Object keys are kept as they are: they are schema, not user data.
    """

    tree: Any
    parts: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> JsonStrings | None:
        """``None`` if ``text`` is not JSON: guard it as plain text instead."""
        try:
            tree = json.loads(text)
        except (ValueError, RecursionError):
            return None
        parts: list[str] = []
        _collect(tree, parts)
        return cls(tree, tuple(parts))

    def rebuild(self, parts: tuple[str, ...] | list[str]) -> str:
        if len(parts) != len(self.parts):
            raise ValueError("rebuild needs exactly one replacement per string leaf")
        feed = iter(parts)
        return json.dumps(_replace(self.tree, feed), ensure_ascii=False, separators=(",", ":"))


def _collect(node: Any, out: list[str]) -> None:
    if isinstance(node, str):
        out.append(node)
    elif isinstance(node, list):
        for item in node:
            _collect(item, out)
    elif isinstance(node, dict):
        for value in node.values():
            _collect(value, out)


def _replace(node: Any, feed: Any) -> Any:
    if isinstance(node, str):
        return next(feed)
    if isinstance(node, list):
        return [_replace(item, feed) for item in node]
    if isinstance(node, dict):
        return {key: _replace(value, feed) for key, value in node.items()}
    return node
