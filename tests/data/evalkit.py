"""Assembly helpers shared by the evaluation-set generators (no data, no templates).

A message is built from segments ``(text, entity or None)``; a writing style (lower
case, upper case, messy spacing ...) is applied per segment before the segments are
joined, so gold offsets stay exact even when a style changes a string's length.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Iterable
from pathlib import Path

Segment = tuple[str, str | None]
Style = Callable[[str, str | None, random.Random], str]
SLOT = re.compile(r"\{(\w+)\}")


def segments(template: str, make: Callable[[str], tuple[str, str]]) -> list[Segment]:
    """Split ``template`` at ``{SLOT}`` markers; ``make(slot)`` gives (entity, value)."""
    out: list[Segment] = []
    cursor = 0
    for match in SLOT.finditer(template):
        out.append((template[cursor : match.start()], None))
        out.append(make(match.group(1))[::-1])
        cursor = match.end()
    out.append((template[cursor:], None))
    return [(text, entity) for text, entity in out if text]


def assemble(parts: Iterable[Segment], style: Style, rng: random.Random) -> dict[str, object]:
    text, spans = "", []
    for value, entity in parts:
        styled = style(value, entity, rng)
        if entity is not None:
            spans.append({"entity": entity, "start": len(text), "end": len(text) + len(styled)})
        text += styled
    return {"text": text, "spans": spans}


def luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    body = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
    for check in "0123456789":
        number = body + check
        total = 0
        for i, ch in enumerate(reversed(number)):
            digit = int(ch) * (2 if i % 2 else 1)
            total += digit - 9 if digit > 9 else digit
        if total % 10 == 0:
            return number
    raise AssertionError("unreachable")


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> None:
    with path.open("w", encoding="utf-8") as out:
        for index, row in enumerate(rows):
            out.write(json.dumps({"id": index, **row}, ensure_ascii=False) + "\n")
