"""``GET /audit``: the audit log for the auditor role, filtered and paged.

Query parameters: ``since`` / ``until`` (ISO 8601 or unix seconds), ``sub``, ``role``,
``decision`` (allow | deny), ``reason``, ``model``, ``tool``, ``before`` (the ``next_before`` of the
previous page) and ``limit`` (1-1000, default 100). Reading the audit log is itself audited.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping
from pathlib import Path

import orjson
from starlette.requests import Request
from starlette.responses import Response

from gateway.audit.export import parse_time
from gateway.audit.query import query_sqlite
from gateway.call import Call
from gateway.db.audit_admin import QueryFilter, query_postgres
from gateway.dialects.openai import CHAT
from gateway.errors import BadRequest, Forbidden, Reason
from gateway.pipeline import Finish, Respond
from gateway.services import Gateway
from gateway.settings import AuditSettings
from gateway.stages.base import Stage
from gateway.trail import Trail

AUDITOR_ROLE = "auditor"
_MAX_LIMIT = 1000


async def audit_route(request: Request) -> Response:
    gateway: Gateway = request.state.gateway
    call = Call(CHAT, request.headers, Trail(route="/audit", action="audit.query"))
    call.params = request.query_params
    return await gateway.audit_query.run(call)


def audit_query(settings: AuditSettings, db_path: Path) -> Respond:
    """The ``respond`` of the audit_query pipeline (after authenticate and the auditor check)."""

    async def respond(call: Call, finish: Finish) -> Response:
        filters, limit = query_filters(call.params)
        if settings.sink == "postgres":
            assert settings.postgres_dsn is not None  # settings validation guarantees it
            page = await query_postgres(settings.postgres_dsn, settings.postgres_schema, filters, limit)
        else:
            page = await asyncio.to_thread(query_sqlite, db_path, filters, limit)
        call.trail.status = 200
        body = {"events": page.events, "next_before": page.next_before}
        headers = {"x-skein-request-id": call.trail.request_id}
        return Response(orjson.dumps(body), media_type="application/json", headers=headers)

    return respond


class RequireAuditor(Stage):
    name = "authorize"

    async def enter(self, call: Call) -> None:
        if AUDITOR_ROLE not in call.principal.roles:
            message = f"the audit log is readable by the {AUDITOR_ROLE} role only"
            raise Forbidden(message, reason="auditor_only", reasons=[Reason("auditor_only", message)])


def query_filters(params: Mapping[str, str]) -> tuple[QueryFilter, int]:
    since = _time(params, "since")
    until = _time(params, "until")
    before = _integer(params, "before", 0, _MAX_POSITION)
    limit = _integer(params, "limit", 1, _MAX_LIMIT)
    decision = params.get("decision")
    if decision not in (None, "allow", "deny"):
        raise BadRequest("decision must be allow or deny", reason="invalid_request")
    filters = QueryFilter(
        since=since,
        until=until,
        sub=_text(params, "sub"),
        role=_text(params, "role"),
        decision=decision,
        reason=_text(params, "reason"),
        model=_text(params, "model"),
        tool=_text(params, "tool"),
        before=before,
    )
    return filters, 100 if limit is None else limit


# Out-of-range values would reach the database and fail there (a 500): refuse them here.
# Messages name the parameter, never echo its value or a parser's words.
_MAX_POSITION = 2**63 - 1  # a BIGINT / SQLite INTEGER
_MAX_TIME = 253402300799.0  # 9999-12-31T23:59:59Z: what a Postgres or Python date can hold


def _integer(params: Mapping[str, str], name: str, low: int, high: int) -> int | None:
    text = params.get(name)
    if text is None:
        return None
    value = int(text) if text.isascii() and text.isdigit() and len(text) <= 19 else None
    if value is None or not low <= value <= high:
        raise BadRequest(f"{name} must be an integer from {low} to {high}", reason="invalid_request")
    return value


def _text(params: Mapping[str, str], name: str) -> str | None:
    """A text filter; a NUL is refused because Postgres text cannot hold one (the driver
    would fail on it, a 500) and no stored value has one, on SQLite either."""
    text = params.get(name)
    if text is not None and "\x00" in text:
        raise BadRequest(f"{name} must not contain a NUL character", reason="invalid_request")
    return text


def _time(params: Mapping[str, str], name: str) -> float | None:
    """Unix seconds or ISO 8601 (UTC when no zone is given), from 1970 to 9999."""
    text = params.get(name)
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        try:
            value = parse_time(text)
        except (ValueError, OverflowError):
            value = math.nan
    if not 0 <= value <= _MAX_TIME:  # also false for NaN
        raise BadRequest(
            f"{name} must be unix seconds or an ISO 8601 date or time between 1970 and 9999",
            reason="invalid_request",
        )
    return value
