"""Agent set-up: what an agent (goose) needs to know about its caller's role.

* ``GET /profiles/me``: the caller's own profile view as the active bundle says: per known
  role its models, extensions, tool globs, privacy mode, approvals, budgets; the models
  policy lets it use; the MCP endpoints of its extensions.
* ``GET /goose/allowlist.yaml``: goose's extension allowlist (``GOOSE_ALLOWLIST`` is its URL):
  one entry per MCP server the caller may reach through Skein, ``command`` being what goose
  installs: the server's ``goose_command`` when one is configured (a local stdio server),
  else its Skein URL (a streamable-HTTP extension). goose's built-in extensions
  (``developer``, ``memory``) need no entry.

Both are authenticated and audited like every route, and decided by the same policy: the
servers listed are those ``mcp.connect`` allows, the models those ``models.list`` allows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import yaml
from starlette.requests import Request
from starlette.responses import Response

from gateway.call import Call
from gateway.dialects.openai import CHAT
from gateway.domain import CallView
from gateway.pipeline import Finish, Respond
from gateway.services import Gateway
from gateway.settings import McpServerSettings
from gateway.stages.mcp_decide import decide
from gateway.trail import Trail
from signing.schema import RoleProfile


@dataclass(slots=True)
class AgentCall(Call):
    base_url: str = ""  # where this gateway is reached, for the URLs it hands out


async def profile_me(request: Request) -> Response:
    return await _run(request, "/profiles/me", "profile.read")


async def goose_allowlist(request: Request) -> Response:
    return await _run(request, "/goose/allowlist.yaml", "goose.allowlist")


async def _run(request: Request, route: str, action: str) -> Response:
    gateway: Gateway = request.state.gateway
    trail = Trail(route=route, action=action)
    trail.view = CallView(action="models.list")  # the profile view lists the usable models
    base = gateway.settings.mcp.public_url or str(request.base_url)
    call = AgentCall(CHAT, request.headers, trail, base_url=base.rstrip("/"))
    pipeline = gateway.profile_view if route == "/profiles/me" else gateway.goose_allowlist
    return await pipeline.run(call)


def profile_view(servers: Mapping[str, McpServerSettings]) -> Respond:
    async def respond(call: Call, finish: Finish) -> Response:
        bundle, principal = call.bundle, call.principal
        assert bundle is not None and isinstance(call, AgentCall)
        profiles = _profiles(call)
        reachable = await _reachable(call, servers, profiles)
        body = {
            "sub": principal.sub,
            "tenant": principal.tenant,
            "roles": [p.role for p in profiles],
            "bundle_revision": bundle.revision,
            "models": list(call.decision.models),
            "profiles": [_view(p) for p in profiles],
            "mcp": {
                "aggregated": f"{call.base_url}/mcp",
                "servers": {name: f"{call.base_url}/mcp/{name}" for name in reachable},
            },
        }
        call.trail.status = 200
        headers = {"x-skein-request-id": call.trail.request_id}
        return Response(orjson.dumps(body), 200, headers, media_type="application/json")

    return respond


def goose_allowlist_yaml(servers: Mapping[str, McpServerSettings]) -> Respond:
    async def respond(call: Call, finish: Finish) -> Response:
        assert isinstance(call, AgentCall)
        profiles = _profiles(call)
        reachable = await _reachable(call, servers, profiles)
        entries = [
            {"id": name, "command": servers[name].goose_command or f"{call.base_url}/mcp/{name}"}
            for name in reachable
        ]
        roles = ", ".join(p.role for p in profiles)
        header = f"# goose extension allowlist for {call.principal.sub} (roles: {roles})\n"
        text = header + yaml.safe_dump({"extensions": entries}, sort_keys=False)
        call.trail.status = 200
        headers = {"x-skein-request-id": call.trail.request_id, "cache-control": "no-store"}
        return Response(text.encode(), 200, headers, media_type="application/yaml")

    return respond


def _profiles(call: Call) -> list[RoleProfile]:
    bundle = call.bundle
    assert bundle is not None
    return [bundle.profiles[role] for role in call.principal.roles if role in bundle.profiles]


async def _reachable(
    call: Call, servers: Mapping[str, McpServerSettings], profiles: list[RoleProfile]
) -> list[str]:
    """The configured servers among the caller's extensions that policy lets it reach."""
    named = sorted(
        {ext.name for p in profiles for ext in p.extensions if ext.enabled and ext.name in servers}
    )
    return [
        name for name in named if (await decide(call, "mcp.connect", {"server": name, "method": "GET"})).allow
    ]


def _view(profile: RoleProfile) -> dict[str, Any]:
    dumped = profile.model_dump(mode="json", by_alias=True)
    view = {
        key: dumped[key]
        for key in ("role", "display_name", "description", "extensions", "tools", "approvals")
    }
    models = dumped["models"]
    view["models"] = {k: models[k] for k in ("allowed", "default", "lead", "worker", "max_tokens")}
    privacy = dumped["privacy"]
    view["privacy"] = {k: privacy[k] for k in ("mode", "entities", "local_only")}
    view["budgets"], view["rate_limits"] = dumped["budgets"], dumped["rate_limits"]
    view["goosehints"] = dumped.get("goosehints") or None
    return view
