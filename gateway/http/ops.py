"""Routes that are not proxied: health, readiness, metrics, the dev JWKS."""

from __future__ import annotations

import time
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.errors import NotFound
from gateway.http.errors import error_response
from gateway.services import Gateway


def _json(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(payload), status_code=status, headers=headers, media_type="application/json")


async def healthz(request: Request) -> Response:
    """Liveness: the process serves HTTP. Says nothing about dependencies (that is /readyz)."""
    return _json({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Readiness, in three states:

    * ``not_ready`` (503): no verified bundle, or audit records cannot be spooled (every
      call would be refused): take this replica out of rotation;
    * ``degraded`` (200): serving every call correctly, but a dependency is failing (the
      audit store behind the spool, Redis, a provider whose circuit breaker is not closed);
      ``reasons`` says which and since when;
    * ``ready`` (200).
    """
    gw: Gateway = request.state.gateway
    bundle = gw.bundles.status()
    audit = gw.audit
    state = gw.state
    if state is not None:
        await state.policy.check()  # while Redis fails, see it come back without waiting for traffic
    reasons = [] if bundle.get("revision") else ["no verified policy bundle is active"]
    reasons += audit.problems()
    reasons += state.policy.problems() if state is not None else []
    breakers = gw.breakers.states() if gw.breakers is not None else {}
    reasons += [f"provider {name}: circuit breaker {at}" for name, at in breakers.items() if at != "closed"]
    ready = bool(bundle.get("revision")) and audit.healthy
    body = {
        "status": "not_ready" if not ready else "degraded" if reasons else "ready",
        "reasons": reasons,
        "bundle": bundle,
        "audit": {
            "healthy": audit.healthy,
            "store_up": audit.store_up,
            "backlog": audit.depth,
            "spool_bytes": audit.spool_bytes,
        },
        "state": {
            "backend": state.backend if state is not None else "none",
            "up": state.policy.up if state is not None else True,
        },
        "routing": {"breakers": breakers},
        "time": time.time(),
    }
    return _json(body, status=200 if ready else 503)


async def metrics(request: Request) -> Response:
    gw: Gateway = request.state.gateway
    body, content_type = gw.metrics.render()
    return Response(body, media_type=content_type)


async def jwks(request: Request) -> Response:
    gw: Gateway = request.state.gateway
    dev = gw.authenticator.dev_key
    if dev is None:
        return error_response(NotFound("dev mode is off: this gateway issues no tokens"), {})
    return _json(dev.jwks())


async def openid_configuration(request: Request) -> Response:
    """Dev mode's discovery document. The JWKS address is never built from the Host header (a
    caller could point verifiers at its own keys): it is ``server.public_url`` when set, else
    the address of the socket the request arrived on."""
    gw: Gateway = request.state.gateway
    if gw.authenticator.dev_key is None:
        return error_response(NotFound("dev mode is off: this gateway issues no tokens"), {})
    base = gw.settings.server.public_url
    if base is None:
        host, port = request.scope.get("server") or (gw.settings.server.host, gw.settings.server.port)
        base = f"http://[{host}]:{port}" if ":" in str(host) else f"http://{host}:{port}"
    jwks_uri = base.rstrip("/") + "/.well-known/jwks.json"
    return JSONResponse({"issuer": gw.settings.dev.issuer, "jwks_uri": jwks_uri})
