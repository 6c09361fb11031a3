"""Budgets and rate limits: may this caller spend now? On the way out, the real cost.

After routing (the reservation is priced at the served model's rates), before the guard (a
refused call costs no PII analysis). Budgets and rate limits are taken in one all-or-nothing
step (``gateway/state/quotas.py``): a call refused by either consumes neither. A reservation
is the call's worst case, settled on the way out to the provider's real usage, or refunded
when the call failed. The state is always there: in this process's memory, or in Redis.
"""

from __future__ import annotations

from gateway.call import Call
from gateway.stages.base import Stage
from gateway.state.shared import SharedState


class Admit(Stage):
    name = "admit"

    def __init__(self, state: SharedState) -> None:
        self._state = state

    async def enter(self, call: Call) -> None:
        state, route, view = self._state, call.route, call.view
        assert route is not None and call.bundle is not None
        out = (view.max_tokens or state.default_max_tokens) * view.choices
        tokens = view.input_tokens_estimate + out
        usd = (
            route.info.input_per_1k * view.input_tokens_estimate / 1000
            + route.info.output_per_1k * out / 1000
        )
        call.reservation = await state.quotas.admit(
            call.principal, call.bundle.profiles, usd=usd, tokens=tokens
        )

    async def leave(self, call: Call) -> None:
        reservation, call.reservation = call.reservation, None
        if reservation is None:
            return
        usage = call.trail.usage
        tokens = usage.tokens_in + usage.tokens_out if usage else 0
        await self._state.quotas.settle(reservation, call.trail.cost_usd if usage else 0.0, tokens)
