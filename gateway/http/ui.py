"""``/ui``: the decision explorer, a static page (HTML, one script, one stylesheet).

The page holds no data and needs no session: the auditor pastes a token, and the page's
script calls ``/v1/decisions``, ``/v1/decisions/{id}``, ``/v1/replay/candidates`` and
``/v1/replay`` with it, where authentication and the auditor check happen as for any
client. No build step, nothing from another origin: the CSP below allows scripts, styles
and requests from this origin only, no inline code, no framing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

_ASSETS = Path(__file__).with_name("explorer")
_FILES = {
    "/ui": ("index.html", "text/html; charset=utf-8"),
    "/ui/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/ui/app.css": ("app.css", "text/css; charset=utf-8"),
}
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self';"
    " base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-cache",
}


def routes() -> list[Route]:
    """The page's routes; the files are read once, here (they ship with the package)."""
    return [
        Route(path, _serve((_ASSETS / name).read_bytes(), media), methods=["GET"])
        for path, (name, media) in _FILES.items()
    ]


def _serve(body: bytes, media_type: str) -> Callable[[Request], Awaitable[Response]]:
    async def asset(request: Request) -> Response:
        return Response(body, media_type=media_type, headers=_HEADERS)

    return asset
