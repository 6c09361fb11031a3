"""The admit and idempotency stages on the real app with the Redis backend, one stage at a time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import TypeVar

import pytest

from gateway.call import Answer, Call
from gateway.dialects import openai
from gateway.domain import CallView, Decision, Principal, Usage
from gateway.errors import RateLimited
from gateway.services import Gateway
from gateway.stages.admit import Admit
from gateway.stages.base import Stage
from gateway.stages.forward import Forward
from gateway.stages.idempotency import Idempotency
from gateway.stages.route import RouteCall
from gateway.state.idempotency import Claim
from gateway.trail import Trail
from tests.support.gateway import make_settings, running_gateway
from tests.support.issuer import TokenIssuer

pytestmark = pytest.mark.redis
S = TypeVar("S", bound=Stage)


@pytest.fixture
async def gw(
    tmp_path: Path, token_issuer: TokenIssuer, redis_url: str, redis_prefix: str
) -> AsyncIterator[Gateway]:
    settings = make_settings(
        tmp_path / "state",
        auth={"issuer": token_issuer.issuer, "audience": token_issuer.audience},
        state={"backend": "redis", "redis_url": redis_url, "key_prefix": redis_prefix},
        guard={"enabled": False},
    )
    async with running_gateway(settings) as client:
        yield client.app_state["gateway"]  # type: ignore[attr-defined]


def stage(gw: Gateway, kind: type[S]) -> S:
    return next(s for s in gw.model_call.stages if isinstance(s, kind))


def decided_call(gw: Gateway, principal: Principal, view: CallView, model: str = "gpt-4o-mini") -> Call:
    call = Call(openai.CHAT, {}, Trail(route="/v1/chat/completions", action="chat"))
    call.trail.principal, call.trail.view = principal, view
    call.trail.decision = Decision(allow=True, model=model)
    call.bundle = gw.bundles.current()
    return call


async def test_admit_reserves_and_settles_to_the_real_cost(gw: Gateway) -> None:
    principal = Principal(sub="alice", roles=("finance",), tenant="acme")
    view = CallView(action="chat", model="gpt-4o-mini", max_tokens=1000, input_tokens_estimate=100)
    call = decided_call(gw, principal, view)
    await stage(gw, RouteCall).enter(call)
    await stage(gw, Admit).enter(call)
    assert call.reservation is not None and call.reservation.open
    before = await gw.usage.snapshot("acme", "alice")
    assert before["spend_today_usd"] == pytest.approx((100 * 0.00015 + 1000 * 0.0006) / 1000, abs=1e-6)

    call.trail.usage = Usage(tokens_in=10, tokens_out=8)
    await stage(gw, Forward).leave(call)  # accounts the cost
    await stage(gw, Admit).leave(call)  # settles the reservation to it
    after = await gw.usage.snapshot("acme", "alice")
    assert after["spend_today_usd"] == pytest.approx(call.trail.cost_usd, abs=1e-6)
    assert after["tokens_today"] == 18


async def test_admit_refuses_an_auditor_with_no_budget(gw: Gateway) -> None:
    auditor = Principal(sub="eve", roles=("auditor",), tenant="acme")
    call = decided_call(gw, auditor, CallView(action="chat", model="gpt-4o-mini", max_tokens=10))
    await stage(gw, RouteCall).enter(call)
    with pytest.raises(RateLimited) as refused:
        await stage(gw, Admit).enter(call)
    assert refused.value.reason == "budget_exceeded" and refused.value.status == 429


async def test_idempotency_claims_stores_and_replays(gw: Gateway) -> None:
    principal = Principal(sub="alice", roles=("finance",), tenant="acme")
    idem = stage(gw, Idempotency)

    def call_with(key: str | None) -> Call:
        headers = {"idempotency-key": key} if key else {}
        call = Call(openai.CHAT, headers, Trail(route="/v1/chat/completions", action="chat"))
        call.trail.principal, call.raw = principal, b"{}"
        return call

    await idem.enter(none := call_with(None))
    assert none.claim is None and none.replay is None
    await idem.enter(first := call_with("k1"))
    assert isinstance(first.claim, Claim)
    first.answer = Answer(200, {"x-skein-request-id": "r1"}, b'{"ok":true}')
    await idem.leave(first)
    await idem.enter(again := call_with("k1"))
    assert again.replay is not None and again.replay.body == b'{"ok":true}'

    await idem.enter(failed := call_with("k2"))
    failed.answer = Answer(502, {}, b"bad gateway")
    await idem.leave(failed)  # a 5xx gives the key up
    await idem.enter(retry := call_with("k2"))
    assert isinstance(retry.claim, Claim)
