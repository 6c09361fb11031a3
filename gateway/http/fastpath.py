"""Dispatch the hot proxy routes straight to their handlers.

Starlette wraps every request in its middleware stack (server errors, exception handlers,
router, endpoint adapter), which costs a noticeable share of a proxied call at thousands
of requests per second. The proxy handlers catch every error themselves and always return
a response, so for exactly those routes this ASGI layer calls them directly; everything
else (other routes, 404/405, lifespan) goes through the Starlette app unchanged.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

Handler = Callable[[Request], Awaitable[Response]]


class FastPaths:
    def __init__(self, app: Starlette, routes: Mapping[tuple[str, str], Handler]) -> None:
        self.app = app  # the Starlette app, for everything that is not a hot route
        self._routes = dict(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            handler = self._routes.get((scope["method"], scope["path"]))
            if handler is not None:
                response = await handler(Request(scope, receive))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
