"""Text hidden in base64 (a policy option: ``GuardPolicy.decode_base64``).

A long run of base64 characters that decodes to UTF-8 text (a pasted file, a data URL,
an encoded tool argument) is decoded and guarded like any other text. What the provider
then receives, by mode:

* ``detect``: the blob unchanged; its findings are counted;
* ``block``: refused when the decoded text holds PII;
* ``mask`` / ``pseudonymize``: the blob re-encoded (same alphabet, same padding) from the
  masked / pseudonymized text, so the provider can still decode and read it. Tokens inside
  an encoded blob are not restored in answers (the model rarely echoes base64 verbatim).

Runs that do not decode to text (images, archives, random keys) are left as they are:
they are not text, and no text recognizer could read them anyway.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

MIN_CHARS = 24  # shorter runs are identifiers and hashes far more often than encoded text
_BLOB = re.compile(
    rf"(?<![A-Za-z0-9+/_=-])(?:[A-Za-z0-9+/]{{{MIN_CHARS},}}|[A-Za-z0-9_-]{{{MIN_CHARS},}})={{0,2}}"
)
_PRINTABLE_SHARE = 0.95


@dataclass(frozen=True, slots=True)
class Blob:
    start: int
    end: int
    text: str  # the decoded text
    urlsafe: bool
    padded: bool

    def encode(self, text: str) -> str:
        raw = text.encode("utf-8")
        encoded = base64.urlsafe_b64encode(raw) if self.urlsafe else base64.b64encode(raw)
        value = encoded.decode("ascii")
        return value if self.padded else value.rstrip("=")


def find(text: str) -> list[Blob]:
    """Base64 runs of ``text`` that decode to readable UTF-8 text."""
    blobs = []
    for match in _BLOB.finditer(text):
        value = match.group()
        decoded = _decode(value)
        if decoded is not None:
            urlsafe = "-" in value or "_" in value
            blobs.append(Blob(match.start(), match.end(), decoded, urlsafe, value.endswith("=")))
    return blobs


def _decode(value: str) -> str | None:
    body = value.rstrip("=")
    if len(body) % 4 == 1 or body.isalpha():
        return None  # not a possible length, or a plain long word
    padded = body + "=" * (-len(body) % 4)
    try:
        if "-" in body or "_" in body:
            raw = base64.urlsafe_b64decode(padded)
        else:
            raw = base64.b64decode(padded, validate=True)
        text = raw.decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    printable = sum(ch.isprintable() or ch in "\n\r\t" for ch in text)
    if not text.strip() or printable < _PRINTABLE_SHARE * len(text):
        return None
    return text


def replace(text: str, blobs: list[Blob], replacements: list[str]) -> str:
    """``text`` with each blob re-encoded from its replacement (unchanged ones kept)."""
    pieces: list[str] = []
    cursor = 0
    for blob, new in zip(blobs, replacements, strict=True):
        pieces.append(text[cursor : blob.start])
        pieces.append(text[blob.start : blob.end] if new == blob.text else blob.encode(new))
        cursor = blob.end
    pieces.append(text[cursor:])
    return "".join(pieces)
