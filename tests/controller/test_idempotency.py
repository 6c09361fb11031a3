"""Idempotency-Key on controller creates (Redis backend): replays, scope, in-flight lock,
and one key across both doors (HTTP and the agent mesh)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from gateway.state.idempotency import Claim
from tests.controller.conftest import Api, expect
from tests.controller.test_mesh import answer, mesh
from tests.support.gateway import make_settings, running_gateway
from tests.support.issuer import TokenIssuer

pytestmark = pytest.mark.redis


@pytest.fixture(scope="module")
async def controller_client(
    tmp_path_factory: pytest.TempPathFactory, token_issuer_session: TokenIssuer, redis_url: str
) -> AsyncIterator[httpx.AsyncClient]:
    """This module's gateway keeps Idempotency-Keys in Redis (under a prefix of its own)."""
    import redis.asyncio as redis

    issuer, prefix = token_issuer_session, f"skeintest_{uuid.uuid4().hex[:12]}:"
    settings = make_settings(
        tmp_path_factory.mktemp("idempotency") / "state",
        auth={"issuer": issuer.issuer, "audience": issuer.audience},
        guard={"enabled": False},
        state={"backend": "redis", "redis_url": redis_url, "key_prefix": prefix},
    )
    async with running_gateway(settings) as client:
        yield client
    cleanup = redis.from_url(redis_url)
    async for key in cleanup.scan_iter(match=prefix + "*"):
        await cleanup.delete(key)
    await cleanup.aclose()


TASK = {"target_role": "manager", "task_type": "budget_approval", "title": "Q3", "payload": {"usd": 125000}}


async def test_a_retried_create_replays_the_first_answer(api: Api) -> None:
    headers = {**api.as_("alice", "finance"), "idempotency-key": "create-1"}
    first = await api.client.post("/api/v1/tasks", json=TASK, headers=headers)
    again = await api.client.post("/api/v1/tasks", json=TASK, headers=headers)
    assert expect(first, 201) == expect(again, 201)
    assert again.headers["x-skein-idempotent-replay"] == first.headers["x-skein-request-id"]
    listed = expect(await api.client.get("/api/v1/tasks", headers=api.as_("alice", "finance")), 200)
    assert len(listed["items"]) == 1
    reused = await api.client.post("/api/v1/tasks", json={**TASK, "title": "other"}, headers=headers)
    assert expect(reused, 422)["error"]["code"] == "idempotency_key_reused"


async def test_the_key_is_scoped_to_the_caller(api: Api) -> None:
    key = {"idempotency-key": "shared-key"}
    alice = await api.client.post("/api/v1/tasks", json=TASK, headers={**api.as_("alice", "finance"), **key})
    bob = await api.client.post("/api/v1/tasks", json=TASK, headers={**api.as_("bob", "finance"), **key})
    assert expect(alice, 201)["id"] != expect(bob, 201)["id"]


async def test_a_key_in_flight_is_a_409(api: Api) -> None:
    gateway = api.gateway
    assert gateway.state is not None
    store = gateway.state.idempotency
    # Claim the key as a first, still-running call of alice would have.
    claim = await store.begin(
        store.key(api.tenant, "alice", "tasks.create", "busy"),
        b'{"payload":{"usd":125000},"target_role":"manager","task_type":"budget_approval","title":"Q3"}',
    )
    assert isinstance(claim, Claim)
    headers = {**api.as_("alice", "finance"), "idempotency-key": "busy"}
    response = await api.client.post("/api/v1/tasks", json=TASK, headers=headers)
    assert expect(response, 409)["error"]["code"] == "idempotency_in_flight"
    await store.release(claim)
    assert (await api.client.post("/api/v1/tasks", json=TASK, headers=headers)).status_code == 201


async def test_one_key_across_both_doors(api: Api) -> None:
    finance = api.as_("alice", "finance")
    over_http = await api.client.post(
        "/api/v1/tasks", json=TASK, headers={**finance, "idempotency-key": "door"}
    )
    async with mesh(api, finance) as alice:
        over_mesh = answer(await alice.call_tool("send_task", {**TASK, "idempotency_key": "door"}))
    assert over_mesh == expect(over_http, 201)


async def test_a_bad_key_is_a_400(api: Api) -> None:
    headers = {**api.as_("alice", "finance"), "idempotency-key": "has space"}
    assert expect(await api.client.post("/api/v1/tasks", json=TASK, headers=headers), 400)["error"][
        "param"
    ] == ("Idempotency-Key")
