"""Unicode normalisation before detection, with offsets mapped back to the caller's text.

A zero-width space inside a surname splits it for every recognizer ("Mül\u200bler"), a BOM
glues itself to a word, full-width digits (U+FF10..) are not what the patterns
expect, and a non-breaking space is not the space the rules expect. Detection
therefore runs on a normalised copy: invisible characters removed (zero-width, BOM, soft
hyphen, bidi controls), NFKC applied (full-width forms, ligatures, compatibility spaces),
and dash look-alikes made ASCII hyphens. Each detection is then mapped back to the span of
the ORIGINAL text that produced it, so masking replaces exactly what the caller sent,
invisible characters included.

Most text is ASCII and is passed through untouched at the cost of one ``isascii()``;
otherwise only runs of non-ASCII characters are examined.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from dataclasses import dataclass

_INVISIBLE = frozenset(
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b\u180c\u180d\u180e\u200b\u200c\u200d\u200e\u200f"
    "\u202a\u202b\u202c\u202d\u202e\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069\u3164\ufeff"
    "\ufe00\ufe01\ufe02\ufe03\ufe04\ufe05\ufe06\ufe07\ufe08\ufe09\ufe0a\ufe0b\ufe0c\ufe0d\ufe0e\ufe0f"
)
_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63"), "-")
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")


@dataclass(frozen=True, slots=True)
class _Segment:
    norm_start: int
    orig_start: int
    # None: copied verbatim (offsets shift); else the original (start, end) of each char.
    table: tuple[tuple[int, int], ...] | None = None


@dataclass(frozen=True, slots=True)
class Normalized:
    """The text detection runs on, and how to map its offsets back to ``original``."""

    original: str
    text: str
    segments: tuple[_Segment, ...] = ()
    starts: tuple[int, ...] = ()  # norm_start of each segment, for bisect

    @property
    def changed(self) -> bool:
        return bool(self.segments)

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original span of the normalised span ``[start, end)`` (``end > start``)."""
        if not self.segments:
            return start, end
        return self._locate(start)[0], self._locate(end - 1)[1]

    def _locate(self, index: int) -> tuple[int, int]:
        """Original (start, end) of the normalised character at ``index``."""
        at = bisect.bisect_right(self.starts, index) - 1
        segment = self.segments[at]
        offset = index - segment.norm_start
        if segment.table is None:
            position = segment.orig_start + offset
            return position, position + 1
        return segment.table[offset]


def normalize(text: str) -> Normalized:
    if text.isascii():
        return Normalized(text, text)
    pieces: list[str] = []
    segments: list[_Segment] = []
    cursor = norm = 0
    for run in _NON_ASCII.finditer(text):
        start, end = run.span()
        if start > cursor and unicodedata.combining(text[start]):
            start -= 1  # keep an ASCII base letter with its combining accent (e + \u0301)
        chars, table = _clean(text, start, end)
        if chars == text[start:end]:
            continue
        if start > cursor:
            segments.append(_Segment(norm, cursor))
            pieces.append(text[cursor:start])
            norm += start - cursor
        segments.append(_Segment(norm, start, tuple(table)))
        pieces.append(chars)
        norm += len(chars)
        cursor = end
    if not segments:
        return Normalized(text, text)
    segments.append(_Segment(norm, cursor))
    pieces.append(text[cursor:])
    return Normalized(text, "".join(pieces), tuple(segments), tuple(s.norm_start for s in segments))


def _clean(text: str, start: int, end: int) -> tuple[str, list[tuple[int, int]]]:
    """Normalise ``text[start:end]`` one grapheme-ish cluster (a base and its combining
    marks) at a time, so every output character knows the cluster it came from."""
    out: list[str] = []
    table: list[tuple[int, int]] = []
    index = start
    while index < end:
        stop = index + 1
        while stop < end and unicodedata.combining(text[stop]):
            stop += 1
        cluster = "".join(ch for ch in text[index:stop] if ch not in _INVISIBLE)
        if cluster:
            cleaned = unicodedata.normalize("NFKC", cluster).translate(_DASHES)
            out.append(cleaned)
            table.extend((index, stop) for _ in cleaned)
        index = stop
    return "".join(out), table


# Letters NFD does not take apart (the dotless i is U+0131).
_UNACCENTED = str.maketrans(
    {"ł": "l", "ø": "o", "đ": "d", "ħ": "h", "\u0131": "i", "ß": "ss", "æ": "ae", "œ": "oe"}
)


def fold(word: str) -> str:
    """The word without accents ("găești" -> "gaesti"): chat often drops them, so the word
    lists hold both forms and a lookup tries both."""
    if word.isascii():
        return word
    decomposed = unicodedata.normalize("NFD", word.translate(_UNACCENTED))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))
