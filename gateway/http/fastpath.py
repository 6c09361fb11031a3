"""Dispatch the hot proxy routes straight to their handlers; tag every other response.

Starlette wraps every request in its middleware stack (server errors, exception handlers,
router, endpoint adapter), which costs a noticeable share of a proxied call at thousands
of requests per second. The proxy handlers catch every error themselves and always return
a response, so for exactly those routes this ASGI layer calls them directly; everything
else (other routes, 404/405, lifespan) goes through the Starlette app unchanged, and gets an
``x-skein-request-id`` header when the route did not set one, so every response of the
gateway can be quoted in a support ticket.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from gateway.trail import new_id

Handler = Callable[[Request], Awaitable[Response]]
_REQUEST_ID = b"x-skein-request-id"


class FastPaths:
    def __init__(self, app: Starlette, routes: Mapping[tuple[str, str], Handler]) -> None:
        self.app = app  # the Starlette app, for everything that is not a hot route
        self._routes = dict(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        handler = self._routes.get((scope["method"], scope["path"]))
        if handler is not None:
            response = await handler(Request(scope, receive))
            await response(scope, receive, send)
            return

        async def tagged(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(name.lower() == _REQUEST_ID for name, _ in headers):
                    headers.append((_REQUEST_ID, new_id().encode()))
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, tagged)
