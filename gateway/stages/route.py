"""Where the decided call goes: the served model's provider, if this gateway has it.

After the decision (the served model may be a downshift target, never the caller's raw
name), before admission (the reservation is priced at the served model's rates).
"""

from __future__ import annotations

from collections.abc import Mapping

from gateway.call import Call, Route
from gateway.errors import BadRequest, Forbidden, Unavailable
from gateway.stages.base import Stage
from gateway.upstream.base import Upstream


class RouteCall(Stage):
    name = "route"

    def __init__(self, upstreams: Mapping[str, Upstream], fallback: Upstream | None) -> None:
        self._upstreams = upstreams
        self._fallback = fallback  # the echo provider, when no provider is configured at all

    async def enter(self, call: Call) -> None:
        bundle = call.bundle
        assert bundle is not None
        model = call.decision.model or call.view.model or ""
        info = bundle.catalog.models.get(model)
        if info is None:
            raise Forbidden(f"model {model!r} is not in the model catalog", reason="unknown_model")
        upstream = self._upstreams.get(info.provider) or self._fallback
        if upstream is None:
            raise Unavailable(
                f"provider {info.provider!r} for model {model!r} is not configured on this gateway",
                reason="provider_not_configured",
            )
        family = call.dialect.family
        if not upstream.speaks(family):
            raise BadRequest(
                f"model {model} is served by provider {info.provider!r}, which does not speak the"
                f" {family} API of {call.dialect.path}",
                reason="dialect_mismatch",
            )
        call.route = Route(model, info, upstream)
        call.trail.provider, call.trail.served_model = upstream.name, model
