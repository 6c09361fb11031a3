"""The controller's OpenAPI 3.1 document, generated from the operation table.

Every operation's route, policy action (``x-policy-action``), parameters and body schema come
from the same ``Operation`` objects the routes are built from, so the document cannot drift
from the API; a test checks both ways (every route documented, every documented route
exists) and a property-based test sends generated requests against it.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from pydantic import BaseModel

from gateway.controller.models import RECORD_ID, ROLE
from gateway.controller.operation import Operation

_PARAM = re.compile(r"\{(\w+)\}")
_REF = "#/components/schemas/{model}"
_ERRORS = {
    "400": "the request is malformed; error.param names the field",
    "401": "no valid credentials",
    "403": "refused by policy; error.reasons says why",
    "404": "no such record in the caller's tenant",
    "409": "the record's state does not allow it; error.details.current names that state",
    "503": "the controller store or the policy engine is unavailable",
}
_ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type", "code"],
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "code": {"type": "string", "description": "a stable reason code"},
                "param": {"type": ["string", "null"]},
                "reasons": {"type": "array", "items": {"type": "object"}},
                "details": {"type": "object"},
            },
        }
    },
}


@functools.cache
def openapi_document() -> dict[str, Any]:
    from gateway.controller.wiring import OPERATIONS  # the table imports the operations

    schemas: dict[str, Any] = {"Error": _ERROR_SCHEMA}
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, schemas)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Skein controller API",
            "version": "1",
            "description": "Tasks, approvals, sessions, profiles, the org chart and notifications."
            " Every call is authenticated, decided by policy (x-policy-action) and audited.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
            },
        },
        "security": [{"bearer": []}, {"apiKey": []}],
    }


def _operation(op: Operation, schemas: dict[str, Any]) -> dict[str, Any]:
    document: dict[str, Any] = {
        "operationId": op.id,
        "summary": op.summary,
        "tags": list(op.tags),
        "x-policy-action": op.action,
        "parameters": _path_parameters(op) + _query_parameters(op.query),
        "responses": _responses(op),
    }
    if op.idempotent:
        document["parameters"].append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": "retries with the same key and request get the first answer",
                "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,255}$"},
            }
        )
    if op.body is not None:
        schemas[op.body.__name__] = _schema(op.body, schemas)
        body = {"$ref": _REF.format(model=op.body.__name__)}
        document["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    elif op.csv_body:
        csv = {
            "schema": {"type": "string", "description": "user_id,reports_to_id,name,role,email,department"}
        }
        document["requestBody"] = {"required": True, "content": {"text/csv": csv}}
    return document


def _schema(model: type[BaseModel], schemas: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template=_REF)
    schemas.update(schema.pop("$defs", {}))
    return schema


def _path_parameters(op: Operation) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "string", "pattern": ROLE if name == "role" else RECORD_ID},
        }
        for name in _PARAM.findall(op.path)
    ]


def _query_parameters(model: type[BaseModel] | None) -> list[dict[str, Any]]:
    if model is None:
        return []
    properties = model.model_json_schema()["properties"]
    return [
        {"name": name, "in": "query", "required": field.is_required(), "schema": properties[name]}
        for name, field in model.model_fields.items()
    ]


def _responses(op: Operation) -> dict[str, Any]:
    error = {"application/json": {"schema": {"$ref": _REF.format(model="Error")}}}
    ok = {"application/json": {"schema": {"type": "object"}}}
    responses: dict[str, Any] = {str(op.success): {"description": op.summary, "content": ok}}
    for status, description in _ERRORS.items():
        responses[status] = {"description": description, "content": error}
    return responses
