"""``GET /audit``: the audit log for the auditor role, filtered and paged.

Query parameters: ``since`` / ``until`` (ISO 8601 or unix seconds), ``sub``, ``role``,
``decision`` (allow | deny), ``reason``, ``model``, ``before`` (the ``next_before`` of the
previous page) and ``limit`` (1-1000, default 100). Reading the audit log is itself audited.
"""

from __future__ import annotations

import asyncio

import orjson
from starlette.requests import Request
from starlette.responses import Response

from gateway.audit.export import parse_time
from gateway.audit.query import query_sqlite
from gateway.db.audit_admin import Page, QueryFilter, query_postgres
from gateway.domain import Principal
from gateway.errors import BadRequest, Forbidden, GatewayError
from gateway.http.errors import error_response
from gateway.pipeline import Gateway
from gateway.trail import Trail

AUDITOR_ROLE = "auditor"
_MAX_LIMIT = 1000


async def query_audit(request: Request) -> Response:
    gw: Gateway = request.state.gateway
    trail = Trail(route="/audit", action="audit.query")
    try:
        headers = request.headers
        principal = await gw.authenticate(trail, headers.get("authorization"), headers.get("x-api-key"))
        _require_auditor(principal)
        filters, limit = _filters(request)
        page = await _query(gw, filters, limit)
        trail.status = 200
        body = {"events": page.events, "next_before": page.next_before}
        return Response(orjson.dumps(body), media_type="application/json", headers=gw.response_headers(trail))
    except GatewayError as exc:
        trail.fail(exc)
        return error_response(exc, gw.response_headers(trail))
    finally:
        gw.close(trail)


def _require_auditor(principal: Principal) -> None:
    if AUDITOR_ROLE not in principal.roles:
        raise Forbidden(f"the audit log is readable by the {AUDITOR_ROLE} role only", reason="auditor_only")


def _filters(request: Request) -> tuple[QueryFilter, int]:
    params = request.query_params
    try:
        since = _time(params["since"]) if "since" in params else None
        until = _time(params["until"]) if "until" in params else None
        before = int(params["before"]) if "before" in params else None
        limit = int(params.get("limit", "100"))
    except ValueError as exc:
        raise BadRequest(f"bad query parameter: {exc}", reason="invalid_request") from exc
    if not 1 <= limit <= _MAX_LIMIT:
        raise BadRequest(f"limit must be between 1 and {_MAX_LIMIT}", reason="invalid_request")
    decision = params.get("decision")
    if decision not in (None, "allow", "deny"):
        raise BadRequest("decision must be allow or deny", reason="invalid_request")
    filters = QueryFilter(
        since=since,
        until=until,
        sub=params.get("sub"),
        role=params.get("role"),
        decision=decision,
        reason=params.get("reason"),
        model=params.get("model"),
        before=before,
    )
    return filters, limit


def _time(text: str) -> float:
    """Unix seconds or ISO 8601 (UTC when no zone is given)."""
    try:
        return float(text)
    except ValueError:
        return parse_time(text)


async def _query(gw: Gateway, filters: QueryFilter, limit: int) -> Page:
    audit = gw.settings.audit
    if audit.sink == "postgres":
        assert audit.postgres_dsn is not None  # settings validation guarantees it
        return await query_postgres(audit.postgres_dsn, audit.postgres_schema, filters, limit)
    return await asyncio.to_thread(query_sqlite, gw.settings.audit_db_path, filters, limit)
