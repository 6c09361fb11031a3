"""Apply a mode to detected spans: mask, pseudonymize, or leave as is."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from guard.errors import GuardBlocked
from guard.policy import Detection, GuardResult, Mode
from guard.pseudonyms import Signer, make_tokens


def count(detections: Sequence[Sequence[Detection]]) -> dict[str, int]:
    return dict(Counter(d.entity for part in detections for d in part))


def apply_mode(
    mode: Mode,
    parts: Sequence[str],
    detections: Sequence[Sequence[Detection]],
    signer: Signer | None = None,
) -> GuardResult:
    """Build the result for ``mode``; ``signer`` is required for pseudonymize."""
    counts = count(detections)
    if mode is Mode.BLOCK and counts:
        raise GuardBlocked(set(counts))
    if mode in (Mode.OFF, Mode.DETECT, Mode.BLOCK) or not counts:
        return GuardResult(mode, tuple(parts), counts, {})
    if mode is Mode.MASK:
        replacements = [[f"<{d.entity}>" for d in part] for part in detections]
        return GuardResult(mode, _replace_all(parts, detections, replacements), counts, {})
    if signer is None:
        raise ValueError("pseudonymize needs a signer")
    items = [
        (d.entity, text[d.start : d.end]) for text, part in zip(parts, detections, strict=True) for d in part
    ]
    tokens = make_tokens(signer, items)
    replacements = [
        [tokens[(d.entity, text[d.start : d.end])] for d in part]
        for text, part in zip(parts, detections, strict=True)
    ]
    mapping = {token: value for (_, value), token in tokens.items()}
    return GuardResult(mode, _replace_all(parts, detections, replacements), counts, mapping)


def _replace_all(
    parts: Sequence[str], detections: Sequence[Sequence[Detection]], replacements: Sequence[Sequence[str]]
) -> tuple[str, ...]:
    return tuple(
        _replace(text, found, repl) for text, found, repl in zip(parts, detections, replacements, strict=True)
    )


def _replace(text: str, found: Sequence[Detection], replacements: Sequence[str]) -> str:
    if not found:
        return text
    pieces: list[str] = []
    cursor = 0
    for det, replacement in zip(found, replacements, strict=True):
        pieces.append(text[cursor : det.start])
        pieces.append(replacement)
        cursor = det.end
    pieces.append(text[cursor:])
    return "".join(pieces)


def merge_mappings(*mappings: Mapping[str, str]) -> dict[str, str]:
    merged: dict[str, str] = {}
    for mapping in mappings:
        merged.update(mapping)
    return merged
