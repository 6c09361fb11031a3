"""The policy contract on the Python side: the engine protocol and the decision parser.

Two engines implement :class:`PolicyEngine` (``embedded``: regopy in process, ``remote``: an
OPA server). Both hand the raw ``data.gateway.decision`` document to :func:`parse_decision`,
so they agree on what a valid decision is. Anything that is not one (undefined, the wrong
shape, a wrong type) raises ``Unavailable(reason="policy_undefined")``: the gateway fails
closed and never guesses an allow.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from gateway.domain import Decision, GuardSpec
from gateway.errors import Reason, Unavailable

ENTRYPOINT = "gateway/decision"  # data.gateway.decision
GUARD_MODES = frozenset({"off", "detect", "mask", "pseudonymize", "block"})


class PolicyEngine(Protocol):
    async def decide(self, policy_input: dict[str, Any]) -> Decision: ...


class PolicyCompileError(Unavailable):
    """The policy modules do not compile; the message names the file and line."""

    default_reason = "policy_engine_error"


def parse_decision(raw: Any) -> Decision:
    """Turn the JSON decision document into a :class:`Decision`, or fail closed."""
    if not isinstance(raw, Mapping):
        raise _undefined(
            "the policy returned no decision document" if raw is None else "decision is not an object"
        )
    allow = raw.get("allow")
    if not isinstance(allow, bool):
        raise _undefined("decision.allow is missing or not a boolean")
    model = raw.get("model")
    if model is not None and not isinstance(model, str):
        raise _undefined("decision.model is not a string")
    approval = raw.get("approval_required", False)
    if not isinstance(approval, bool):
        raise _undefined("decision.approval_required is not a boolean")
    return Decision(
        allow=allow,
        reasons=_reasons(raw.get("reasons", [])),
        model=model,
        guard=_guard(raw.get("guard")),
        approval_required=approval,
        models=_strings(raw.get("models", []), "models"),
    )


def _reasons(raw: Any) -> tuple[Reason, ...]:
    if not isinstance(raw, list):
        raise _undefined("decision.reasons is not a list")
    reasons = []
    for item in raw:
        if not (isinstance(item, Mapping) and isinstance(item.get("code"), str)):
            raise _undefined("decision.reasons holds an entry without a string code")
        reasons.append(Reason(item["code"], str(item.get("message", ""))))
    return tuple(reasons)


def _guard(raw: Any) -> GuardSpec:
    # No guard section means the policy did not think about privacy: the strictest mode.
    if raw is None:
        return GuardSpec(mode="block")
    if not isinstance(raw, Mapping) or raw.get("mode") not in GUARD_MODES:
        raise _undefined("decision.guard.mode is missing or not a known guard mode")
    return GuardSpec(mode=raw["mode"], entities=_strings(raw.get("entities", []), "guard.entities"))


def _strings(raw: Any, field: str) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
        raise _undefined(f"decision.{field} is not a list of strings")
    return tuple(raw)


def _undefined(detail: str) -> Unavailable:
    return Unavailable(f"policy decision is undefined or malformed: {detail}", reason="policy_undefined")
