"""The proxied routes: one handler per dialect, all driving the same pipeline.

A handler only builds the call (its dialect, the caller's headers, how to read the body)
and hands it to ``Gateway.model_call``; everything else happens in the stages
(``gateway/pipeline.py``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from gateway.call import Call
from gateway.dialects.base import Dialect
from gateway.errors import ClientDisconnected, PayloadTooLarge
from gateway.services import Gateway
from gateway.trail import Trail

Handler = Callable[[Request], Awaitable[Response]]


def model_route(dialect: Dialect) -> Handler:
    async def handle(request: Request) -> Response:
        gateway: Gateway = request.state.gateway
        call = Call(dialect, request.headers, Trail(route=dialect.path, action=dialect.action))
        call.read_body = lambda limit: read_body(request, limit)
        return await gateway.model_call.run(call)

    handle.__name__ = f"proxy_{dialect.family}_{dialect.action}"
    return handle


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, refusing it as soon as it passes ``limit`` (chunked uploads included).

    With a Content-Length (already checked against the limit by the read stage) the server
    hands the body over in one piece: read it directly."""
    try:
        if "content-length" in request.headers:
            body = await request.body()
            if len(body) > limit:
                raise PayloadTooLarge(f"request body exceeds the limit of {limit} bytes")
            return body
        parts: list[bytes] = []
        size = 0
        async for part in request.stream():
            size += len(part)
            if size > limit:
                raise PayloadTooLarge(f"request body exceeds the limit of {limit} bytes")
            parts.append(part)
        return b"".join(parts)
    except ClientDisconnect as exc:  # gone mid-upload, or cut by the server's body timeout
        raise ClientDisconnected("the client left before its request body arrived") from exc
