"""The ``Gateway`` hooks the HTTP handlers call, on the real app with the Redis backend."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.domain import CallView, Decision, Principal, Usage
from gateway.errors import RateLimited
from gateway.pipeline import Gateway
from gateway.state.idempotency import Claim, StoredResponse
from gateway.trail import Trail
from tests.support.gateway import make_settings, running_gateway
from tests.support.issuer import TokenIssuer

pytestmark = pytest.mark.redis


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


async def test_admit_reserves_and_settle_charges_the_real_cost(gw: Gateway) -> None:
    principal = Principal(sub="alice", roles=("finance",), tenant="acme")
    view = CallView(action="chat", model="gpt-4o-mini", max_tokens=1000, input_tokens_estimate=100)
    trail = Trail(route="/v1/chat/completions", action="chat")
    bundle, decision = await gw.decide(trail, principal, view)
    route = gw.route(trail, bundle, view, decision)
    reservation = await gw.admit(trail, bundle, principal, view, route)
    assert reservation is not None and reservation.open
    before = await gw.usage.snapshot("acme", "alice")
    assert before["spend_today_usd"] == pytest.approx((100 * 0.00015 + 1000 * 0.0006) / 1000, abs=1e-6)

    await gw.account(trail, route, Usage(tokens_in=10, tokens_out=8))
    await gw.settle_budget(trail, reservation)
    after = await gw.usage.snapshot("acme", "alice")
    assert after["spend_today_usd"] == pytest.approx(trail.cost_usd, abs=1e-6)
    assert after["tokens_today"] == 18
    assert "admit" in trail.stages  # timed like every stage


async def test_admit_refuses_an_auditor_with_no_budget(gw: Gateway) -> None:
    auditor = Principal(sub="eve", roles=("auditor",), tenant="acme")
    view = CallView(action="chat", model="gpt-4o-mini", max_tokens=10)
    trail = Trail(route="/v1/chat/completions", action="chat")
    bundle = gw.bundles.current()
    route = gw.route(trail, bundle, view, Decision(allow=True, model="gpt-4o-mini"))
    with pytest.raises(RateLimited) as refused:
        await gw.admit(trail, bundle, auditor, view, route)
    assert refused.value.reason == "budget_exceeded" and refused.value.status == 429


async def test_idempotency_hooks_claim_store_and_replay(gw: Gateway) -> None:
    principal = Principal(sub="alice", roles=("finance",), tenant="acme")
    assert await gw.idempotency_begin(principal, "/v1/chat/completions", None, b"{}") is None
    claim = await gw.idempotency_begin(principal, "/v1/chat/completions", "k1", b"{}")
    assert isinstance(claim, Claim)
    answer = StoredResponse(200, {"x-skein-request-id": "r1"}, b'{"ok":true}')
    await gw.idempotency_finish(claim, answer)
    assert await gw.idempotency_begin(principal, "/v1/chat/completions", "k1", b"{}") == answer

    failed = await gw.idempotency_begin(principal, "/v1/chat/completions", "k2", b"{}")
    assert isinstance(failed, Claim)
    await gw.idempotency_finish(failed, StoredResponse(502, {}, b"bad gateway"))  # released
    assert isinstance(await gw.idempotency_begin(principal, "/v1/chat/completions", "k2", b"{}"), Claim)
