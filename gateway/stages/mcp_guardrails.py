"""An MCP decision re-checked outside Rego, against the profiles it must respect.

Like ``guardrails.py`` for models: policy decides, and this makes sure no allow can be more
permissive than the caller's profiles themselves, whatever went wrong on the way. For an
allowed MCP decision:

* a named tool (``tools.call``, a listed tool) is granted by some role of the caller: its
  ``tools.allow`` globs match ``server__tool``, its ``tools.deny`` globs do not, and its
  extension for the server is enabled and lists the tool (or lists none);
* a call of a tool that a granting role lists under ``approvals.tools`` is marked
  ``approval_required``;
* anything else on a server needs an enabled extension of that name in some role;
* the guard is at least as strict as the caller's profiles require.

A decision that fails a check becomes a deny with reason ``decision_invalid``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fnmatch import fnmatchcase
from typing import Any

from gateway.domain import Decision
from gateway.stages.guardrails import guard_problem
from signing.schema import RoleProfile


def mcp_decision_problem(
    decision: Decision, action: str, resource: Mapping[str, Any], profiles: Sequence[RoleProfile]
) -> str | None:
    """Why an allowed MCP decision must not stand, or None when it may."""
    server = resource.get("server")
    tool = resource.get("tool")
    if not profiles or not isinstance(server, str):
        return "the decision names no server of a known role"
    if action in ("tools.call", "tools.list") and isinstance(tool, str):
        name = f"{server}__{tool}"
        granting = [p for p in profiles if grants_tool(p, server, tool)]
        if not granting:
            return f"no role of the caller grants tool {name}"
        needs_approval = any(_matches(p.approvals.tools, name) for p in granting)
        if action == "tools.call" and needs_approval and not decision.approval_required:
            return f"tool {name} needs an approval and the decision does not ask for one"
    elif not any(ext.name == server and ext.enabled for p in profiles for ext in p.extensions):
        return f"no role of the caller has the extension {server}"
    return guard_problem(decision.guard, profiles)


def grants_tool(profile: RoleProfile, server: str, tool: str) -> bool:
    name = f"{server}__{tool}"
    if not _matches(profile.tools.allow, name) or _matches(profile.tools.deny, name):
        return False
    return any(
        ext.name == server and ext.enabled and (not ext.tools or _matches(ext.tools, tool))
        for ext in profile.extensions
    )


def _matches(patterns: Sequence[str], name: str) -> bool:
    return any(fnmatchcase(name, pattern) for pattern in patterns)
