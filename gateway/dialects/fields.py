"""Reading a caller's JSON body: strict parsing, typed fields, identifiers that cannot lie.

Every dialect reads its request through these helpers, so every malformed input gets the
same kind of answer: a 400 whose message names the field (``messages[2].content``) and
never carries a parser's internal text. Three rules hold for every body:

* **One canonical body.** The body is parsed once; what goes upstream is the re-serialised
  parsed object (:func:`canonical`), never the caller's bytes. Duplicate keys therefore
  cannot smuggle a second value past policy and the guard: the provider receives exactly
  what they saw.
* **Identifiers are checked before policy.** A model, tool or server name must match
  :data:`IDENTIFIER` (no quotes, spaces, control characters or braces), so no string that
  reaches the policy engine as an identifier can carry structure.
* **Token caps are plain positive integers.** null, booleans, floats and out-of-range values
  are refused, so no cap can be skipped by a value the policy reads differently.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson

from gateway.errors import BadRequest

JsonObject = dict[str, Any]

#: Model, tool, server and extension names: letters, digits and ``. _ - : / @ +``.
IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@+\-]{0,127}")
#: The largest token count a caller may ask for (2^31 - 1: every provider's int32).
MAX_TOKENS_LIMIT = 2**31 - 1
#: How deep a body may nest. Far beyond any real request; it bounds the walkers' recursion.
MAX_DEPTH = 64


def parse_object(raw: bytes) -> JsonObject:
    """The body as a JSON object, or a 400 that says where it broke."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(
            f"request body is not valid JSON (near byte {exc.pos})", reason="malformed_json"
        ) from exc
    if not isinstance(body, dict):
        raise BadRequest("request body must be a JSON object", reason="malformed_json")
    return body


def canonical(body: Any) -> bytes:
    """The bytes the provider receives: the parsed body, re-serialised."""
    try:
        return orjson.dumps(body)
    except TypeError as exc:  # nesting beyond orjson's limit: no provider needs that
        raise BadRequest("request body is nested too deeply", reason="invalid_request") from exc


def identifier(value: Any, field: str, *, reason: str = "invalid_request") -> str:
    if not isinstance(value, str) or not value:
        raise BadRequest(f"'{field}' must be a non-empty string", reason=reason, details={"field": field})
    if IDENTIFIER.fullmatch(value) is None:
        raise BadRequest(
            f"'{field}' is not a valid name (letters, digits and . _ - : / @ + only, at most 128)",
            reason=reason,
            details={"field": field},
        )
    return value


def model_name(body: Mapping[str, Any], field: str = "model") -> str:
    if body.get(field) is None:
        raise BadRequest(f"'{field}' is required", reason="missing_model", details={"field": field})
    return identifier(body[field], field, reason="invalid_model")


def token_cap(body: Mapping[str, Any], field: str, path: str | None = None) -> int | None:
    """A token limit the provider honours: absent, or an integer in 1..2^31-1."""
    if field not in body:
        return None
    value = body[field]
    name = path or field
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(name, "must be a positive integer")
    if not 1 <= value <= MAX_TOKENS_LIMIT:
        raise invalid(name, f"must be between 1 and {MAX_TOKENS_LIMIT}")
    return value


def largest_cap(*caps: int | None) -> int | None:
    """Several fields can limit one call (``max_tokens`` and ``max_completion_tokens``): the
    policy must see the largest, since the provider may honour either."""
    present = [cap for cap in caps if cap is not None]
    return max(present) if present else None


def flag(body: Mapping[str, Any], field: str, path: str | None = None) -> bool:
    value = body.get(field)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise invalid(path or field, "must be true or false")
    return value


def optional(body: Mapping[str, Any], field: str, kind: type | tuple[type, ...], path: str) -> Any:
    """``body[field]`` if present and of ``kind`` (None if absent or null), else a 400."""
    value = body.get(field)
    if value is not None and (not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool)):
        raise invalid(path, f"must be {_kind_name(kind)}")
    return value


def objects(value: Any, path: str, *, required: bool = False) -> list[JsonObject]:
    """A list of objects (``messages``, ``tools``): every item checked, the index named."""
    if value is None and not required:
        return []
    if not isinstance(value, list) or (required and not value):
        raise invalid(path, "must be a non-empty array" if required else "must be an array")
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise invalid(f"{path}[{index}]", "must be an object")
    return value


def one_of(value: Any, allowed: frozenset[str], path: str) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise invalid(path, f"must be one of {', '.join(sorted(allowed))}")
    return value


def invalid(path: str, problem: str) -> BadRequest:
    return BadRequest(f"'{path}' {problem}", reason="invalid_request", details={"field": path})


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}
    names.update({dict: "an object", list: "an array"})
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)
