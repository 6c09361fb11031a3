"""Model listings: only the models the caller may use *and* this gateway can serve.

``GET /v1/models`` answers in OpenAI's shape, or in Anthropic's when the caller sends an
``anthropic-version`` header (the Anthropic SDK does); ``GET /api/tags`` in Ollama's. Each
runs the ``model_list`` pipeline (authenticate, profile, decide with action
``models.list``): policy says which models the caller may use, and the listing keeps those
whose provider is configured (all of them while the echo provider stands in for every one).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Collection
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from gateway.call import Call
from gateway.dialects import anthropic, ollama, openai
from gateway.dialects.base import Dialect
from gateway.domain import CallView
from gateway.pipeline import Finish
from gateway.services import Gateway
from gateway.trail import Trail
from signing.schema import Catalog

Render = Callable[[list[str], Catalog, float], dict[str, Any]]


def listing_route(
    route: str, pick: Callable[[Request], tuple[Dialect, Render]]
) -> Callable[[Request], Awaitable[Response]]:
    async def handle(request: Request) -> Response:
        gateway: Gateway = request.state.gateway
        dialect, render = pick(request)
        trail = Trail(route=route, action="models.list")
        trail.view = CallView(action="models.list")
        call = Call(dialect, request.headers, trail)
        call.listing = render
        return await gateway.model_list.run(call)

    return handle


def servable(
    configured: Collection[str], *, echo_everything: bool, headers: Callable[[Call], dict[str, str]]
) -> Callable[[Call, Finish], Awaitable[Response]]:
    """The ``respond`` of the model_list pipeline: the decision's models whose provider is
    configured (every one while the echo provider answers for all)."""

    async def respond(call: Call, finish: Finish) -> Response:
        bundle = call.bundle
        assert bundle is not None and call.listing is not None
        names = [
            name
            for name in call.decision.models
            if (info := bundle.catalog.models.get(name)) is not None
            and (echo_everything or info.provider in configured)
        ]
        call.trail.status = 200
        body = call.listing(names, bundle.catalog, bundle.loaded_at)
        return Response(orjson.dumps(body), 200, headers(call), media_type="application/json")

    return respond


def openai_or_anthropic(request: Request) -> tuple[Dialect, Render]:
    if "anthropic-version" in request.headers:
        return anthropic.MESSAGES, _anthropic
    return openai.CHAT, _openai


def ollama_tags(request: Request) -> tuple[Dialect, Render]:
    return ollama.CHAT, _ollama


def _openai(names: list[str], catalog: Catalog, loaded_at: float) -> dict[str, Any]:
    created = int(loaded_at)
    data = [
        {"id": n, "object": "model", "created": created, "owned_by": catalog.models[n].provider}
        for n in names
    ]
    return {"object": "list", "data": data}


def _anthropic(names: list[str], catalog: Catalog, loaded_at: float) -> dict[str, Any]:
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(loaded_at))
    data = [{"type": "model", "id": n, "display_name": n, "created_at": created} for n in names]
    return {
        "data": data,
        "has_more": False,
        "first_id": names[0] if names else None,
        "last_id": names[-1] if names else None,
    }


def _ollama(names: list[str], catalog: Catalog, loaded_at: float) -> dict[str, Any]:
    modified = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(loaded_at))
    models = []
    for name in names:
        info = catalog.models[name]
        details = {"family": info.provider, "format": "", "parameter_size": "", "quantization_level": ""}
        models.append(
            {
                "name": name,
                "model": name,
                "modified_at": modified,
                "size": 0,
                "digest": "",
                "details": details,
            }
        )
    return {"models": models}
