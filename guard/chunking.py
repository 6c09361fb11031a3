"""Split a call's texts into balanced batches, one per worker, and map offsets back.

A 2,000-word prompt takes ~130 ms of NER on one core; cut at sentence boundaries and
spread over both cores it takes about half. Cuts fall only on whitespace after ., !, ?
or a newline, where no pattern entity (email, card, IBAN, ...) can straddle them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from guard.policy import Detection

SENTENCE_END = re.compile(r"(?<=[.!?\n])\s+")  # also the unit of guard.nerscope


@dataclass(frozen=True, slots=True)
class Piece:
    part: int  # index of the original text
    offset: int  # where the piece starts in it
    text: str


def split_text(part: int, text: str, max_chars: int) -> list[Piece]:
    if len(text) <= max_chars:
        return [Piece(part, 0, text)]
    pieces: list[Piece] = []
    start = 0
    for match in SENTENCE_END.finditer(text):
        if match.end() - start >= max_chars:
            pieces.append(Piece(part, start, text[start : match.end()]))
            start = match.end()
    pieces.append(Piece(part, start, text[start:]))
    return [p for p in pieces if p.text]


def plan(texts: Sequence[str], workers: int, min_chars: int = 1200) -> list[list[Piece]]:
    """Batches (at most ``workers``) of pieces with roughly equal character counts."""
    total = sum(len(t) for t in texts)
    if workers <= 1 or total < 2 * min_chars:
        return [[Piece(i, 0, t) for i, t in enumerate(texts)]]
    target = max(min_chars, total // workers)
    pieces = [p for i, t in enumerate(texts) for p in split_text(i, t, max(min_chars, target // 2))]
    batches: list[list[Piece]] = [[] for _ in range(workers)]
    loads = [0] * workers
    for piece in sorted(pieces, key=lambda p: -len(p.text)):
        lightest = loads.index(min(loads))
        batches[lightest].append(piece)
        loads[lightest] += len(piece.text)
    return [b for b in batches if b]


def merge(
    count: int, batches: Sequence[Sequence[Piece]], found: Sequence[Sequence[Sequence[Detection]]]
) -> list[list[Detection]]:
    """Detections per original text, offsets shifted back, sorted."""
    merged: list[list[Detection]] = [[] for _ in range(count)]
    for batch, results in zip(batches, found, strict=True):
        for piece, detections in zip(batch, results, strict=True):
            merged[piece.part].extend(
                Detection(d.entity, d.start + piece.offset, d.end + piece.offset, d.score) for d in detections
            )
    for part in merged:
        part.sort(key=lambda d: d.start)
    return merged
