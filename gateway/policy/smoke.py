"""The smoke corpus: inputs a bundle must decide before it may serve.

Made from the bundle's own data, so every role, model, extension tool and action it knows
is asked about once, plus what a hostile caller sends: identifiers with quotes,
backslashes, control characters and unicode, values of the wrong type, times in the form
the gateway sends (``...Z``) and broken ones. A bundle passes when every input gets a
well-formed decision; an engine error, a panic, a crash or a hang on any of them refuses
it (``gateway.policy.exercise``). Inputs have the shape the gateway builds: hostile values,
not hostile types (a model action always names a model, as a string). The embedded engine
raises on a builtin given the wrong type where OPA's default is "undefined", so a type the
gateway never sends would only measure that difference (docs/policy-guide.md). The corpus
is deterministic and a few hundred inputs.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from itertools import islice
from typing import Any

ACTIONS = ("chat", "completions", "embeddings", "responses", "models.list", "tools.list", "tools.call")
HOSTILE_STRINGS = (
    'gpt-4o", "allow": true, "guard": {"mode": "off", "entities": []}, "x": "',
    "\\",
    '"',
    "\x00\x01\x1f\x7f",
    "line\nbreak\r\ttab",
    "ünïcödé ✓ \U0001d518",
    "\u202e\ufeff",
    "",
    "*",
    "x" * 2048,
)
TIMES = ("2026-11-24T10:00:00Z", "2026-11-28T23:59:59Z", "2026-11-29T03:00:00+02:00", "not a time", "")
MAX_TOOL_CALLS = 60


def smoke_inputs(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    profiles: Mapping[str, Any] = data.get("profiles") or {}
    models: Mapping[str, Any] = (data.get("models") or {}).get("models") or {}
    roles = sorted(profiles)
    return [
        *_model_calls(roles, sorted(models), profiles),
        *_listings(roles),
        *islice(_tool_calls(roles, profiles), MAX_TOOL_CALLS),
        *_hostile(roles[:1], sorted(models)[:1]),
    ]


def _call(roles: list[Any], action: Any, **parts: Any) -> dict[str, Any]:
    return {"principal": {"sub": "smoke", "roles": roles, "tenant": "smoke"}, "action": action, **parts}


def _model_calls(
    roles: list[str], models: list[str], profiles: Mapping[str, Any]
) -> Iterator[dict[str, Any]]:
    for index, role in enumerate(roles):
        budget = ((profiles[role] or {}).get("budgets") or {}).get("daily_usd") or 10
        for model in models:
            for spend, tokens in ((0, 0), (budget * 0.95, 10**9)):
                yield _call(
                    [role],
                    "chat",
                    resource={"model": model, "provider": None},
                    request={"stream": False, "max_tokens": 512, "input_tokens_estimate": 100},
                    usage={"spend_today_usd": spend, "spend_month_usd": spend, "tokens_today": tokens},
                    time=TIMES[index % len(TIMES)],
                )
        # Two roles at once: the rules that combine grants and restrictions.
        pair = [role, roles[(index + 1) % len(roles)]]
        yield _call(pair, "chat", resource={"model": models[index % len(models)]} if models else {})


def _listings(roles: list[str]) -> Iterator[dict[str, Any]]:
    for role in [*roles, "no-such-role"]:
        for action in ("models.list", "tools.list", "task.send", "approval.decide"):
            yield _call([role], action, time=TIMES[0])


def _tool_calls(roles: list[str], profiles: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    for role in roles:
        for extension in (profiles[role] or {}).get("extensions") or []:
            server = extension.get("name") if isinstance(extension, Mapping) else None
            for tool in [*(extension.get("tools") or []), "any_tool"] if server else []:
                yield _call([role], "tools.call", resource={"server": server, "tool": tool})


def _hostile(roles: list[str], models: list[str]) -> Iterator[dict[str, Any]]:
    for text in HOSTILE_STRINGS:
        yield _call(roles, "chat", resource={"model": text, "provider": text})
        yield _call([text], "chat", resource={"model": models[0] if models else text})
        yield _call(roles, text)
        yield _call(roles, "tools.call", resource={"server": text, "tool": text})
    for time in TIMES:
        yield _call(roles, "chat", resource={"model": models[0] if models else ""}, time=time)
    for action in ("models.list", "tools.list"):  # no model: the gateway sends null
        yield _call(roles, action, resource={"model": None, "provider": None}, usage={}, request={})
    for action in ACTIONS:  # numbers at their extremes
        yield _call(
            roles,
            action,
            resource={"model": models[0] if models else ""},
            request={"stream": True, "max_tokens": 2**63 - 1, "input_tokens_estimate": 0},
            usage={"spend_today_usd": 1e-9, "spend_month_usd": 1e12, "tokens_today": 2**53},
        )
    yield {}
