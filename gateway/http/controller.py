"""The controller's HTTP routes (``/api/v1/...``) and its OpenAPI document (``/openapi.json``).

A handler only builds the call (the operation, the caller's headers, the path and query
parameters, how to read the body) and hands it to that operation's pipeline
(``gateway/controller/wiring.py``), the same pipeline the agent mesh runs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.controller.openapi import openapi_document
from gateway.controller.operation import Operation
from gateway.controller.wiring import OPERATIONS, new_call
from gateway.errors import Unavailable
from gateway.http.errors import error_response
from gateway.http.proxy import read_body
from gateway.services import Gateway

Handler = Callable[[Request], Awaitable[Response]]


def controller_routes() -> list[Route]:
    """One route per operation (GET and PATCH share a path: Starlette matches by method)."""
    routes = [Route(op.path, _handler(op), methods=[op.method]) for op in OPERATIONS]
    return [*routes, Route("/openapi.json", openapi_route, methods=["GET"])]


def _handler(op: Operation) -> Handler:
    async def handle(request: Request) -> Response:
        gateway: Gateway = request.state.gateway
        if gateway.controller_api is None:
            return error_response(Unavailable("the controller is not running", reason="controller_off"), {})
        call = new_call(
            op,
            request.headers,
            route=op.path,
            read_body=lambda limit: read_body(request, limit),
            params=request.query_params,
            path_params={k: str(v) for k, v in request.path_params.items()},
        )
        return await gateway.controller_api.run(call, op.id)

    handle.__name__ = f"controller_{op.id.replace('.', '_')}"
    return handle


async def openapi_route(request: Request) -> Response:
    """The controller's API description: public, like the routes' names (nothing about data)."""
    return Response(orjson.dumps(openapi_document()), media_type="application/json")
