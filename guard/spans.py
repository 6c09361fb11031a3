"""Operations on detected spans shared by the detector, the chunker and the service."""

from __future__ import annotations

import bisect
from collections.abc import Sequence

from guard.policy import Detection


def is_allowed(value: str, allow_list: Sequence[str]) -> bool:
    """Exact terms (case-insensitive), ``@example.com`` for a mail domain and
    ``*.example.com`` for a domain and its sub-domains."""
    folded = value.casefold()
    for term in allow_list:
        entry = term.casefold()
        if folded == entry:
            return True
        if entry.startswith("@") and folded.endswith(entry):
            return True
        if entry.startswith("*.") and (folded.endswith(entry[1:]) or folded.endswith("@" + entry[2:])):
            return True
    return False


def resolve_overlaps(found: list[Detection]) -> list[Detection]:
    """Keep the strongest of overlapping detections (score, then length): a checksum-valid
    card beats a phone reading of the same digits, an email beats a name inside it."""
    ranked = sorted(found, key=lambda d: (-d.score, -(d.end - d.start), d.start))
    starts: list[int] = []  # kept spans never overlap, so sorted starts imply sorted ends
    kept: list[Detection] = []
    for det in ranked:
        index = bisect.bisect_left(starts, det.start)
        if index > 0 and kept[index - 1].end > det.start:
            continue
        if index < len(kept) and kept[index].start < det.end:
            continue
        starts.insert(index, det.start)
        kept.insert(index, det)
    return kept
