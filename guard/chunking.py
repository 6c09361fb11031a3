"""Cut a call's texts into batches of bounded size, and map detections back.

Batches serve two purposes. Spread over the workers, they make a long prompt use every
core (a 2,000-word prompt: ~130 ms of NER on one core, about half on two). Bounded in
size, they are the unit the fair scheduler (``guard.admission``) hands out, so a caller's
huge request cannot hold a worker for long while others wait.

Cuts fall on whitespace after ., !, ? or a newline where there is one, where no pattern
entity (email, card, IBAN, ...) can straddle them. Text without such a place (one long
line, a blob) is cut at whitespace, else anywhere, and the next piece starts ``OVERLAP``
characters earlier, so an entity across the cut is seen whole by one of the two pieces;
the duplicates this makes are removed when the pieces are merged.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from guard.policy import Detection
from guard.spans import resolve_overlaps

SENTENCE_END = re.compile(r"(?<=[.!?\n])\s+")  # also the unit of guard.nerscope
_SPACE = re.compile(r"\s+")
OVERLAP = 80  # longer than any pattern entity (an IBAN is at most 42 characters with spaces)


@dataclass(frozen=True, slots=True)
class Piece:
    part: int  # index of the original text
    offset: int  # where the piece starts in it
    text: str


def split_text(part: int, text: str, max_chars: int) -> list[Piece]:
    """Pieces of at most ``max_chars`` (plus the overlap after a cut inside a sentence)."""
    pieces: list[Piece] = []
    start = 0
    while len(text) - start > max_chars:
        end, next_start = _cut(text, start, max_chars)
        pieces.append(Piece(part, start, text[start:end]))
        start = next_start
    pieces.append(Piece(part, start, text[start:]))
    return [p for p in pieces if p.text]


def _cut(text: str, start: int, max_chars: int) -> tuple[int, int]:
    """Where the piece from ``start`` ends, and where the next one begins."""
    low, high = start + max_chars // 2, start + max_chars
    sentence = _last(SENTENCE_END, text, low, high)
    if sentence is not None:
        return sentence.end(), sentence.end()
    space = _last(_SPACE, text, low, high)
    end = space.start() if space is not None else high
    return end, max(start + 1, end - OVERLAP)


def _last(pattern: re.Pattern[str], text: str, low: int, high: int) -> re.Match[str] | None:
    found = None
    for found in pattern.finditer(text, low, high):  # noqa: B007  # the last one is wanted
        pass
    return found


def plan(
    texts: Sequence[str], workers: int, min_chars: int = 500, max_chars: int = 8000
) -> list[list[Piece]]:
    """Batches of pieces: one when the call is small, else about one per worker, each of at
    most ``max_chars`` (so a very long call becomes many batches)."""
    total = sum(len(t) for t in texts)
    if total <= max_chars and (workers <= 1 or total < 2 * min_chars):
        return [[Piece(i, 0, t) for i, t in enumerate(texts)]]
    budget = min(max_chars, max(min_chars, math.ceil(total / max(1, workers))))
    pieces = sorted(
        (p for i, t in enumerate(texts) for p in split_text(i, t, budget)), key=lambda p: -len(p.text)
    )
    count = max(1, math.ceil(sum(len(p.text) for p in pieces) / budget))
    while True:  # longest piece first into the lightest batch; one more batch if one overflows
        batches, loads = _pack(pieces, count)
        if max(loads) <= max_chars or count >= len(pieces):
            return [b for b in batches if b]
        count += 1


def _pack(pieces: Sequence[Piece], count: int) -> tuple[list[list[Piece]], list[int]]:
    batches: list[list[Piece]] = [[] for _ in range(count)]
    loads = [0] * count
    for piece in pieces:
        lightest = loads.index(min(loads))
        batches[lightest].append(piece)
        loads[lightest] += len(piece.text)
    return batches, loads


def merge(
    count: int, batches: Sequence[Sequence[Piece]], found: Sequence[Sequence[Sequence[Detection]]]
) -> list[list[Detection]]:
    """Detections per original text, offsets shifted back, overlap duplicates removed, sorted."""
    merged: list[list[Detection]] = [[] for _ in range(count)]
    cut: set[int] = set()
    for batch, results in zip(batches, found, strict=True):
        for piece, detections in zip(batch, results, strict=True):
            if piece.offset:
                cut.add(piece.part)
            merged[piece.part].extend(
                Detection(d.entity, d.start + piece.offset, d.end + piece.offset, d.score) for d in detections
            )
    for index in cut:
        merged[index] = resolve_overlaps(merged[index])
    for part in merged:
        part.sort(key=lambda d: d.start)
    return merged
