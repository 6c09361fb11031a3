"""A decision re-checked outside Rego, against the profiles it must respect.

Policy decides; this module makes sure no decision can be more permissive than the caller's
profiles themselves allow, whatever went wrong on the way (a policy bug, an engine bug, an
input string that changed the decision's structure). For an allowed model call:

* the served model is in the catalog and some role of the caller allows it;
* that role allows the model's provider, no role forbids it, and local-only roles get a
  local provider;
* the guard mode is at least the strictest mode of the caller's roles, covering every entity
  they list;
* the requested output limit is within the most generous cap of the roles that allow the model.

A decision that fails a check is a deny with reason ``decision_invalid`` (and the check that
failed in its message): never a 5xx, never an allow.
"""

from __future__ import annotations

from collections.abc import Sequence

from gateway.bundle.store import ActiveBundle
from gateway.domain import CallView, Decision, GuardSpec
from signing.schema import RoleProfile

#: Guard modes from least to most strict (mask hides more than pseudonymize: pseudonyms link
#: one person across calls). The same order as policies/guard.rego.
GUARD_STRENGTH = {"off": 0, "detect": 1, "pseudonymize": 2, "mask": 3, "block": 4}

MODEL_ACTIONS = frozenset({"chat", "completions", "embeddings", "responses", "count_tokens"})


def model_decision_problem(
    decision: Decision, view: CallView, bundle: ActiveBundle, roles: Sequence[str]
) -> str | None:
    """Why an allowed model decision must not stand, or None when it may."""
    profiles = [bundle.profiles[role] for role in roles if role in bundle.profiles]
    served = decision.model or view.model
    info = bundle.catalog.models.get(served or "")
    if served is None or info is None:
        return f"the served model {served!r} is not in the catalog"
    granting = [p for p in profiles if p.models.allows(served)]
    if not granting:
        return f"no role of the caller allows model {served}"
    provider = info.provider
    if not any(not p.providers.allowed or provider in p.providers.allowed for p in granting):
        return f"no role that allows {served} allows its provider {provider}"
    if any(provider in p.providers.forbidden for p in profiles):
        return f"provider {provider} is forbidden for a role of the caller"
    local = bundle.catalog.providers.get(provider)
    if any(p.privacy.local_only for p in profiles) and not (local and local.local):
        return f"a role of the caller is local-only and provider {provider} is not local"
    problem = guard_problem(decision.guard, profiles)
    if problem is not None:
        return problem
    return _cap_problem(view, granting, served)


def guard_problem(guard: GuardSpec, profiles: Sequence[RoleProfile]) -> str | None:
    required = max(GUARD_STRENGTH[p.privacy.mode] for p in profiles)
    if GUARD_STRENGTH.get(guard.mode, -1) < required:
        return f"guard mode {guard.mode!r} is weaker than the caller's profiles require"
    if not guard.entities or guard.mode == "block":
        return None  # every entity the guard knows
    if any(not p.privacy.entities for p in profiles):
        return "the guard's entity list is narrower than the caller's profiles require"
    missing = {e for p in profiles for e in p.privacy.entities} - set(guard.entities)
    if missing:
        return f"the guard would skip entities the caller's profiles list: {', '.join(sorted(missing))}"
    return None


def _cap_problem(view: CallView, granting: Sequence[RoleProfile], served: str) -> str | None:
    caps = [p.models.max_tokens for p in granting]
    if view.max_tokens is None or any(cap is None for cap in caps):
        return None
    cap = max(c for c in caps if c is not None)
    if view.max_tokens > cap:
        return f"max_tokens {view.max_tokens} is above the cap of {cap} for model {served}"
    return None
