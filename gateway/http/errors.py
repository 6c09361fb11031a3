"""Errors of the control routes (audit, health, 404/405) as JSON, in the gateway's default
shape (the OpenAI dialect's ``{"error": {...}}``). Model routes answer in their own dialect
(``Dialect.error_body``)."""

from __future__ import annotations

import orjson
from starlette.responses import Response

from gateway.errors import GatewayError


def error_response(error: GatewayError, headers: dict[str, str]) -> Response:
    return Response(
        orjson.dumps({"error": error.fields()}),
        status_code=error.status,
        headers={**headers, **error.headers},
        media_type="application/json",
    )
