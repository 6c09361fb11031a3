"""Bundle data as Rego sees it (``data.profiles``, ``data.models``) and its JSON encoding.

rego-cpp's data parser rejects numbers such as ``2e-05`` (an exponent without a fraction),
which Python and orjson both produce for small prices. :func:`rego_json` writes every float
in a form it accepts, so a catalog price can never break a bundle load.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import orjson

from signing.schema import Catalog, RoleProfile


def bundle_data(catalog: Catalog, profiles: Mapping[str, RoleProfile]) -> dict[str, Any]:
    """The base documents of a bundle, exactly as the OPA bundle's data.json files hold them."""
    return {
        "profiles": {role: p.model_dump(mode="json", by_alias=True) for role, p in profiles.items()},
        "models": catalog.model_dump(mode="json", by_alias=True),
    }


def rego_json(value: Any) -> str:
    """JSON text for ``Interpreter.add_data_json``; floats always in plain decimal notation."""
    return "".join(_encode(value))


def _encode(value: Any) -> list[str]:
    if isinstance(value, float) and not isinstance(value, bool):
        return [_float(value)]
    if isinstance(value, Mapping):
        parts = ["{"]
        for index, (key, item) in enumerate(value.items()):
            parts.append(("," if index else "") + orjson.dumps(str(key)).decode() + ":")
            parts.extend(_encode(item))
        return [*parts, "}"]
    if isinstance(value, list | tuple):
        parts = ["["]
        for index, item in enumerate(value):
            if index:
                parts.append(",")
            parts.extend(_encode(item))
        return [*parts, "]"]
    return [orjson.dumps(value).decode()]


def _float(value: float) -> str:
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"{value!r} is not representable in JSON")
    text = repr(value)
    if "e" not in text and "E" not in text:
        return text
    # The shortest repr's digits, written out without an exponent: exact, and parseable.
    plain = format(Decimal(text), "f")
    return plain if "." in plain else plain + ".0"  # stays a float, not an integer
