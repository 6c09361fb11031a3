"""Ask policy about one MCP message, then make sure the answer can stand.

After the target stage (every name is checked) and before anything is guarded or sent:
a denied message never reaches a server. The policy input (docs/mcp.md) is the caller, the
action of the method and the resource: ``{server, method}`` plus the item the message names
(``tool``, ``prompt``, ``uri``) and, for ``tools.call`` and ``prompts.get``, the caller's
own ``arguments``, so a rule can allow a tool for some arguments only. The decision is then
re-checked against the profiles (``mcp_guardrails``); a refusal is a JSON-RPC error carrying
the reason. An allowed ``tools.call`` must also name a tool its server lists, exactly
(``gateway/mcp/catalog.py``).

On ``/mcp`` a message for every server (initialize, a listing) is decided per server: the
servers policy lets the caller reach are the ones it goes to.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from gateway import approvals
from gateway.call import Call
from gateway.domain import Decision, GuardSpec
from gateway.errors import BadRequest, Reason
from gateway.mcp import aggregate
from gateway.mcp.call import McpCall, mcp_call
from gateway.mcp.catalog import ToolCatalog
from gateway.mcp.session import AGGREGATED
from gateway.mcp.upstream import McpUpstream
from gateway.shadow import Shadow
from gateway.stages.base import Stage
from gateway.stages.decide import refusal
from gateway.stages.mcp_guardrails import mcp_decision_problem
from gateway.trail import new_id

#: Actions whose arguments policy sees.
_WITH_ARGUMENTS = frozenset({"tools.call", "prompts.get"})


class DecideMcp(Stage):
    name = "decide"

    def __init__(
        self, upstreams: Mapping[str, McpUpstream], catalog: ToolCatalog, shadow: Shadow | None = None
    ) -> None:
        self._upstreams = upstreams
        self._catalog = catalog
        self._shadow = shadow

    async def enter(self, call: Call) -> None:
        mcp = mcp_call(call)
        target = mcp.target
        assert target is not None, "the target stage runs first"
        if target.server is None:
            await self._decide_servers(mcp)
            return
        resource = resource_of(mcp)
        decision = await decide(mcp, target.method.action, resource)
        trail = call.trail
        trail.decision, trail.decision_id = decision, new_id()
        if self._shadow is not None and trail.policy_input is not None:  # compared off this path
            self._shadow.submit(trail.policy_input, trail.policy_decision or decision, trail.decision_id)
        if not decision.allow:
            raise refusal(decision)
        if (
            mcp.endpoint == AGGREGATED
            and mcp.session is not None
            and target.server not in mcp.session.upstreams
        ):
            raise BadRequest(
                f"MCP server {target.server} is not part of this session: initialize again to reach it",
                reason="mcp_server_not_in_session",
            )
        if target.method.action == "tools.call":
            assert target.name is not None
            await self._check_listed(mcp, target.server, target.name)
            mcp.arguments_sha256 = approvals.fingerprint(resource["arguments"])

    async def _decide_servers(self, mcp: McpCall) -> None:
        """The aggregated endpoint: the servers this message may go to."""
        target, message = mcp.target, mcp.message
        assert target is not None and message is not None
        if message.method in ("initialize", "server/discover") or mcp.session is None:
            candidates = list(self._upstreams)
        else:
            candidates = [name for name in mcp.session.upstreams if name in self._upstreams]
        allowed: list[str] = []
        guard: GuardSpec | None = None
        for server in candidates:
            decision = await decide(mcp, target.method.action, {"server": server, "method": message.method})
            guard = guard or decision.guard
            if decision.allow:
                allowed.append(server)
        mcp.servers = tuple(allowed)
        # Nothing of the message goes anywhere without a server, so nothing needs guarding then.
        mcp.trail.decision = Decision(allow=True, guard=guard if allowed and guard else GuardSpec("off"))
        mcp.trail.decision_id = new_id()
        mcp.trail.resource["servers"] = list(allowed)
        mcp.trail.policy_input = mcp.trail.policy_decision = None  # one question per server

    async def _check_listed(self, mcp: McpCall, server: str, tool: str) -> None:
        upstream = self._upstreams[server]
        meta = aggregate.envelope(mcp.message.params) if mcp.message else None

        async def fetch() -> list[str]:
            items = await aggregate.list_all(
                upstream, "tools/list", "tools", mcp.upstream_session(server), mcp.headers, meta
            )
            return [item["name"] for item in items if isinstance(item.get("name"), str)]

        if not await self._catalog.lists(server, tool, fetch):
            raise BadRequest(
                f"MCP server {server} has no tool {tool!r}",
                reason="mcp_unknown_tool",
                details={"field": "params.name"},
            )


def resource_of(mcp: McpCall) -> dict[str, Any]:
    """The policy input's resource for the message's target."""
    target, message = mcp.target, mcp.message
    assert target is not None
    resource: dict[str, Any] = {
        "server": target.server,
        "method": (message.method or "(response)") if message else "GET",
    }
    if target.name is not None and target.method.item is not None:
        resource[target.method.item] = target.name
    if target.method.action in _WITH_ARGUMENTS and message is not None:
        arguments = message.params.get("arguments", {})
        if not isinstance(arguments, dict):
            raise BadRequest("'params.arguments' must be an object", details={"field": "params.arguments"})
        resource["arguments"] = arguments
    return resource


async def decide(call: Call, action: str, resource: dict[str, Any]) -> Decision:
    """Policy's decision for one MCP action, re-checked against the caller's profiles."""
    bundle, principal = call.bundle, call.principal
    assert bundle is not None, "the profile stage runs first"
    policy_input = {
        "principal": principal.policy_view(),
        "action": action,
        "resource": resource,
        # Minutes, not seconds: listings ask once per item, and the same input hits the cache.
        "time": time.strftime("%Y-%m-%dT%H:%M:00Z", time.gmtime()),
    }
    decision = await bundle.engine.decide(policy_input)
    call.trail.policy_input = policy_input  # a reference: audit redacts it when recording
    if not decision.allow:
        return decision
    profiles = [bundle.profiles[role] for role in principal.roles if role in bundle.profiles]
    problem = mcp_decision_problem(decision, action, resource, profiles)
    if problem is None:
        return decision
    reason = Reason("decision_invalid", f"the policy's decision was refused: {problem}")
    call.trail.policy_decision = decision  # what policy said: explain and replay show it
    return Decision(allow=False, reasons=(reason,), guard=decision.guard)
