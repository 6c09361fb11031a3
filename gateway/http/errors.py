"""The one place that turns a ``GatewayError`` into a response, in the caller's dialect."""

from __future__ import annotations

from typing import Any, Literal

import orjson
from starlette.responses import Response

from gateway.errors import GatewayError

Dialect = Literal["openai", "anthropic", "plain"]


def error_body(error: GatewayError, dialect: Dialect = "openai") -> dict[str, Any]:
    if dialect == "anthropic":
        return {"type": "error", "error": {"type": error.error_type, "message": error.message}}
    body: dict[str, Any] = {
        "message": error.message,
        "type": error.error_type,
        "code": error.reason,
        "param": None,
    }
    if error.reasons:
        body["reasons"] = [r.as_dict() for r in error.reasons]
    if error.details:
        body["details"] = error.details
    return {"error": body}


def error_response(error: GatewayError, headers: dict[str, str], dialect: Dialect = "openai") -> Response:
    return Response(
        orjson.dumps(error_body(error, dialect)),
        status_code=error.status,
        headers={**headers, **error.headers},
        media_type="application/json",
    )
