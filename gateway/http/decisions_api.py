"""Decisions, explained: one for its caller, all of them for auditors.

* ``GET /v1/decisions/{decision_id}``: the decision behind a call (the id is in every
  answer's ``x-skein-decision-id``): its reasons with their messages, what the policy
  decided beside allow (served model, guard mode, approval), the bundle revision, the stage
  timings and the redacted policy input. A caller reads their own decisions (same ``sub``
  and tenant), an auditor any. Anybody else, and any id that is malformed or unknown, gets
  the same ``404 decision_not_found``: whether a decision exists is not revealed.
* ``GET /v1/decisions`` (auditors): search by ``sub``, ``role``, ``model``, ``tool``,
  ``reason``, ``decision`` (allow | deny), ``since`` / ``until``, paged with ``before`` and
  ``limit`` like ``GET /audit``; each row a short summary (open one for the rest).

Both reads are themselves audited (``decision.read``, ``decision.search``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from gateway.audit.decisions import DECISION_ID, DecisionReader
from gateway.call import Call
from gateway.dialects.openai import CHAT
from gateway.domain import Principal
from gateway.errors import NotFound
from gateway.http.audit_api import AUDITOR_ROLE, query_filters
from gateway.pipeline import Finish, Respond
from gateway.services import Gateway
from gateway.trail import Trail


async def decision_route(request: Request) -> Response:
    gateway: Gateway = request.state.gateway
    call = Call(CHAT, request.headers, Trail(route="/v1/decisions/{decision_id}", action="decision.read"))
    call.params = {"decision_id": request.path_params["decision_id"]}
    return await gateway.decisions.view.run(call)


async def search_route(request: Request) -> Response:
    gateway: Gateway = request.state.gateway
    call = Call(CHAT, request.headers, Trail(route="/v1/decisions", action="decision.search"))
    call.params = request.query_params
    return await gateway.decisions.search.run(call)


def view_decision(reader: DecisionReader) -> Respond:
    async def respond(call: Call, finish: Finish) -> Response:
        decision_id = call.params["decision_id"]
        # Strict before any lookup: only ids the gateway could have made reach the store.
        event = await reader.find(decision_id) if DECISION_ID.fullmatch(decision_id) else None
        if event is None or not _may_read(call.principal, event):
            raise NotFound("no such decision (or not yours)", reason="decision_not_found")
        call.trail.resource["decision_id"] = decision_id
        return _json(call, explained(event))

    return respond


def search_decisions(reader: DecisionReader) -> Respond:
    async def respond(call: Call, finish: Finish) -> Response:
        filters, limit = query_filters(call.params)
        page = await reader.page(replace(filters, decided=True), limit)
        body = {"decisions": [summary(event) for event in page.events], "next_before": page.next_before}
        return _json(call, body)

    return respond


def _may_read(principal: Principal, event: Mapping[str, Any]) -> bool:
    if AUDITOR_ROLE in principal.roles:
        return True
    return event.get("sub") == principal.sub and (event.get("tenant") or "default") == principal.tenant


def summary(event: Mapping[str, Any]) -> dict[str, Any]:
    """One search row: enough to pick a decision."""
    reasons = event.get("reasons") or []
    resource = _object(event.get("resource"))
    return {
        "decision_id": event.get("decision_id"),
        "ts": event.get("ts"),
        "sub": event.get("sub"),
        "roles": event.get("roles") or [],
        "route": event.get("route"),
        "action": event.get("action"),
        "model": event.get("served_model") or event.get("requested_model"),
        "tool": resource.get("tool"),
        "allow": bool(event.get("allow")),
        "reason": reasons[0] if reasons else None,
        "status": event.get("status"),
    }


def explained(event: Mapping[str, Any]) -> dict[str, Any]:
    """A decision as its page shows it. Records written before explain existed have codes only."""
    explain = _object(event.get("explain"))
    reasons = explain.get("reasons") or [{"code": code, "message": ""} for code in event.get("reasons") or []]
    return {
        **summary(event),
        "request_id": event.get("request_id"),
        "tenant": event.get("tenant"),
        "requested_model": event.get("requested_model"),
        "served_model": event.get("served_model"),
        "provider": event.get("provider"),
        "reasons": reasons,
        "outcome": explain.get("decision"),
        "bundle": {"revision": event.get("bundle_revision"), "digest": event.get("bundle_digest")},
        "timings_ms": event.get("latency_ms") or {},
        "upstream_status": event.get("upstream_status"),
        "policy_input": event.get("policy_input"),
    }


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _json(call: Call, body: dict[str, Any]) -> Response:
    call.trail.status = 200
    headers = {"x-skein-request-id": call.trail.request_id}
    return Response(orjson.dumps(body), media_type="application/json", headers=headers)
