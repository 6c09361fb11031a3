"""File digests exactly as OPA computes them for ``.signatures.json``.

OPA hashes most files as raw bytes, but "structured" files (base name ``data.json``,
``data.yaml``, ``.manifest``) are parsed and hashed in a canonical form so a signature
survives re-indentation: objects as ``{`` key ``:`` value ``,`` ... ``}`` with keys in
byte order, arrays as ``[`` ... ``]``, no whitespace. Two details decide whether our
digest equals OPA's:

* numbers are hashed as their source literal (OPA decodes with ``UseNumber``), so
  ``1.0`` and ``1`` hash differently; we keep the literal text instead of a float;
* strings use Go's ``encoding/json`` escaping with HTML escaping off: ``\\n \\r \\t \\b \\f``,
  other control characters as lowercase ``\\u00xx``, U+2028/U+2029 escaped, everything
  else (including ``<>&`` and non-ASCII) raw UTF-8.

We parse more strictly than Go (duplicate keys, NaN and invalid UTF-8 are refused), which
only ever turns away a file OPA might have accepted, never the reverse.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
from typing import Any

from signing.errors import ContentError

# Base names OPA treats as structured documents (bundle.IsStructuredDoc).
STRUCTURED_NAMES = frozenset({"data.json", "data.yaml", ".manifest"})

_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}


class _Number(str):
    """A JSON number kept as its literal text, as Go's ``json.Number`` does."""


def file_digest(name: str, content: bytes) -> str:
    """Hex SHA-256 of one bundle file, canonical for structured documents."""
    if posixpath.basename(name) not in STRUCTURED_NAMES:
        return hashlib.sha256(content).hexdigest()
    if name.endswith(".yaml"):
        raise ContentError("YAML data files are not supported in bundles", file=name)
    return hashlib.sha256(canonical_bytes(parse_json(name, content))).hexdigest()


def parse_json(name: str, content: bytes) -> Any:
    """Parse JSON strictly, keeping number literals (for hashing) as ``_Number``."""
    try:
        text = content.decode("utf-8")
        return json.loads(
            text,
            parse_int=_Number,
            parse_float=_Number,
            parse_constant=_reject_constant,
            object_pairs_hook=_unique_keys,
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise ContentError(f"not valid JSON: {exc}", file=name) from exc


def plain_json(name: str, content: bytes) -> Any:
    """Parse JSON into ordinary Python values (for the policy engine)."""
    return _plain(parse_json(name, content))


def canonical_bytes(value: Any) -> bytes:
    parts: list[str] = []
    _walk(value, parts)
    return "".join(parts).encode("utf-8")


def _walk(value: Any, out: list[str]) -> None:
    if isinstance(value, dict):
        out.append("{")
        # Go sorts map keys as byte strings; UTF-8 byte order equals code point order.
        for index, key in enumerate(sorted(value)):
            if index:
                out.append(",")
            out.append(go_string(key))
            out.append(":")
            _walk(value[key], out)
        out.append("}")
    elif isinstance(value, list):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _walk(item, out)
        out.append("]")
    else:
        out.append(_primitive(value))


def _primitive(value: Any) -> str:
    if isinstance(value, _Number):
        return str.__str__(value)
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        return go_string(value)
    raise TypeError(f"unexpected JSON value {value!r}")


def go_string(text: str) -> str:
    """Encode a string as Go's json.Encoder does with SetEscapeHTML(false)."""
    out = ['"']
    for char in text:
        if char in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[char])
        elif char < " " or char in "\u2028\u2029":
            out.append(f"\\u{ord(char):04x}")
        elif "\ud800" <= char <= "\udfff":
            out.append("\ufffd")  # a lone surrogate: Go decodes it as the replacement char
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, _Number):
        literal = str.__str__(value)
        is_int = not any(c in literal for c in ".eE")
        return int(literal) if is_int else float(literal)
    return value


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result
