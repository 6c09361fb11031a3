"""PII split across the texts of one call: "my SSN is 123-45" + "-6789" in two messages, an
e-mail address across two content parts, or a context word in one part and the number in
the next ("social security number:" + "123456789").

Each part is checked on its own first. Then, for the entity types that are strings of
characters rather than words (``SPANNING``), the end of every part is joined to the start
of the next (a *junction*) and checked again. A detection in a junction that touches none of
the parts' own detections is mapped back: to one part, or, when it crosses the
seam, to a *fragment* in each of the two parts. Each fragment is then masked, pseudonymized
(restoring puts each fragment back in its own part) or blocked like any detection.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from guard.policy import Detection
from guard.spans import resolve_overlaps

SPANNING = frozenset({"US_SSN", "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE"})
# Enough for the longest spanning value (an IBAN with spaces, 42) plus its context word.
TAIL_CHARS = 96
HEAD_CHARS = 64


@dataclass(frozen=True, slots=True)
class Junction:
    left: int  # index of the part whose end is joined
    tail_start: int  # where the tail begins in that part
    tail_len: int
    text: str  # tail + head of the next part


def junctions(parts: Sequence[str]) -> list[Junction]:
    out = []
    for index in range(len(parts) - 1):
        left, right = parts[index], parts[index + 1]
        if not left or not right:
            continue
        tail_start = max(0, len(left) - TAIL_CHARS)
        tail = left[tail_start:]
        out.append(Junction(index, tail_start, len(tail), tail + right[:HEAD_CHARS]))
    return out


def merge(
    parts: Sequence[str],
    found: Sequence[Sequence[Detection]],
    seams: Sequence[Junction],
    seam_found: Sequence[Sequence[Detection]],
) -> list[list[Detection]]:
    """The parts' detections plus what the junctions add, per part, non-overlapping."""
    merged = [list(part) for part in found]
    for seam, detections in zip(seams, seam_found, strict=True):
        for det in detections:
            fragments = _fragments(parts, seam, det)
            # A value a part already holds (same kind) was found there; the join only glued its
            # neighbour on ("email" + "ann@example.com" reads as one address): nothing to add.
            if not any(_overlaps(fragment, merged[part]) for part, fragment in fragments):
                for part, fragment in fragments:
                    merged[part].append(fragment)
    return [resolve_overlaps(part) for part in merged]


def _overlaps(fragment: Detection, found: Sequence[Detection]) -> bool:
    """A detection of the same kind already covers part of this fragment."""
    return any(
        d.entity == fragment.entity and d.start < fragment.end and fragment.start < d.end for d in found
    )


def _fragments(parts: Sequence[str], seam: Junction, det: Detection) -> list[tuple[int, Detection]]:
    left, right = seam.left, seam.left + 1
    if det.end <= seam.tail_len:
        start = seam.tail_start + det.start
        return [(left, Detection(det.entity, start, seam.tail_start + det.end, det.score))]
    if det.start >= seam.tail_len:
        return [(right, Detection(det.entity, det.start - seam.tail_len, det.end - seam.tail_len, det.score))]
    return [
        (left, Detection(det.entity, seam.tail_start + det.start, len(parts[left]), det.score)),
        (right, Detection(det.entity, 0, det.end - seam.tail_len, det.score)),
    ]
