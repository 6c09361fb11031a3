"""Validation errors as messages a person can act on: one line per problem, naming the file or
the environment variable that set the key, with "did you mean" for a mistyped key."""

from __future__ import annotations

import difflib
import typing
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ValidationError

from gateway.settings.base import ENV_PREFIX
from gateway.settings.core import Settings

# Keys of a LiteLLM proxy config: someone pointing Skein at one gets the converter, not a shrug.
LITELLM_KEYS = frozenset(
    {"model_list", "litellm_settings", "general_settings", "router_settings", "environment_variables"}
)


def explain(exc: ValidationError, from_env: Mapping[tuple[str, ...], str], path: Path | None) -> str:
    """One line per problem: where it was set, the key, what is wrong, what to do."""
    lines = []
    for err in exc.errors():
        loc = tuple(str(p) for p in err["loc"])
        # Name the environment variable that set this key, if one did; else the file.
        sources = sorted(var for keys, var in from_env.items() if _overlaps(keys, loc))
        where = ", ".join(sources) if sources else (str(path) if path else "configuration")
        key = ".".join(loc) or "(top level)"
        if err["type"] == "extra_forbidden":
            message = _unknown_key(loc, sources)
        else:
            message = str(err["msg"]).removeprefix("Value error, ")
        lines.append(f"{where}: {key}: {one_line(message)}")
    return "\n".join(lines)


def one_line(text: str) -> str:
    return " ".join(text.split())


def _unknown_key(loc: tuple[str, ...], env_vars: list[str]) -> str:
    if len(loc) == 1 and loc[0] in LITELLM_KEYS:
        return (
            "unknown key: this is a LiteLLM proxy setting; convert the LiteLLM config with "
            "`skein config import-litellm FILE`"
        )
    known = _keys_at(loc[:-1])
    close = difflib.get_close_matches(loc[-1], known, n=1, cutoff=0.6)
    if not close:
        valid = f"; valid keys here: {', '.join(sorted(known))}" if known else ""
        return f"unknown key{valid}"
    parts = env_vars[0][len(ENV_PREFIX) :].split("__") if len(env_vars) == 1 else []
    if len(parts) >= len(loc):  # the variable named the key: correct the mistyped part
        parts[len(loc) - 1] = close[0].upper()
        suggestion = ENV_PREFIX + "__".join(parts)
    else:
        suggestion = ".".join((*loc[:-1], close[0]))
    return f"unknown key; did you mean {suggestion}?"


def _overlaps(keys: tuple[str, ...], loc: tuple[str, ...]) -> bool:
    """Whether a variable that set ``keys`` set (part of) the value at ``loc``."""
    shorter = min(len(keys), len(loc))
    return keys[:shorter] == loc[:shorter]


def _keys_at(loc: tuple[str, ...]) -> list[str]:
    """The keys the settings model accepts under ``loc`` (for "did you mean")."""
    model: type[BaseModel] | None = Settings
    parts = list(loc)
    while model is not None and parts:
        field = model.model_fields.get(parts.pop(0))
        model = None
        if field is None:
            break
        inner = field.annotation
        # dict[str, Model] and tuple[Model, ...]: the next part is a name or an index.
        for arg in (*typing.get_args(inner), inner):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                model = arg
        if model is not None and typing.get_origin(inner) in (dict, tuple) and parts:
            parts.pop(0)
    return list(model.model_fields) if model is not None and not parts else []
