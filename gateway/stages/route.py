"""Where the decided call goes: the served model's provider, if this gateway has it.

After the decision (the served model may be a downshift target, never the caller's raw
name), before admission (the reservation is priced at the served model's rates). A model
with several deployments (``routing.deployments``) gets one picked by the balancer, the
others kept as the call's alternatives for retries; the call counts as in flight on the
picked one until it is over.
"""

from __future__ import annotations

from collections.abc import Mapping

from gateway.call import Call, Route
from gateway.errors import BadRequest, Forbidden, Unavailable
from gateway.stages.base import Stage
from gateway.upstream.balance import Balancer
from gateway.upstream.base import Upstream


class RouteCall(Stage):
    name = "route"

    def __init__(
        self, upstreams: Mapping[str, Upstream], fallback: Upstream | None, balancer: Balancer | None = None
    ) -> None:
        self._upstreams = upstreams
        self._fallback = fallback  # the echo provider, when no provider is configured at all
        self._balancer = balancer

    async def enter(self, call: Call) -> None:
        bundle = call.bundle
        assert bundle is not None
        model = call.decision.model or call.view.model or ""
        info = bundle.catalog.models.get(model)
        if info is None:
            raise Forbidden(f"model {model!r} is not in the model catalog", reason="unknown_model")
        family = call.dialect.family
        placed = self._placed(model, info.provider, family)
        upstream = placed[0] if placed else self._upstreams.get(info.provider) or self._fallback
        if upstream is None:
            raise Unavailable(
                f"provider {info.provider!r} for model {model!r} is not configured on this gateway",
                reason="provider_not_configured",
            )
        if not upstream.speaks(family):
            raise BadRequest(
                f"model {model} is served by provider {info.provider!r}, which does not speak the"
                f" {family} API of {call.dialect.path}",
                reason="dialect_mismatch",
            )
        call.route = Route(model, info, upstream, placed[1:])
        call.trail.provider, call.trail.served_model = upstream.name, model
        if placed and self._balancer is not None:
            self._balancer.started(upstream.name)
            call.placed = upstream.name

    async def leave(self, call: Call) -> None:
        """The call is over: it no longer counts as in flight on its deployment."""
        if call.placed is not None and self._balancer is not None:
            self._balancer.ended(call.placed)

    def _placed(self, model: str, provider: str, family: str) -> tuple[Upstream, ...]:
        """The model's deployments that speak the caller's API, the picked one first (or none)."""
        balancer = self._balancer
        if balancer is None or model not in balancer:
            return ()
        return tuple(u for u in balancer.order(model, provider) if u.speaks(family))
