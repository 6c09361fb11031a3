"""Approvals over HTTP: who approves (org chart, profile), concurrent decisions, expiry."""

from __future__ import annotations

import asyncio

from tests.controller.conftest import Api, expect


async def new_task(api: Api, headers: dict[str, str]) -> str:
    body = {
        "target_role": "manager",
        "task_type": "budget_approval",
        "title": "Q3",
        "payload": {"usd": 125000},
    }
    return str(expect(await api.client.post("/api/v1/tasks", json=body, headers=headers), 201)["id"])


async def request(api: Api, headers: dict[str, str], task_id: str) -> dict[str, object]:
    body = {"task_id": task_id, "reason": "above the $50K limit"}
    return expect(await api.client.post("/api/v1/approvals", json=body, headers=headers), 201)


async def test_the_requesters_manager_in_the_org_chart_approves(api: Api) -> None:
    expect(await api.import_org(), 200)
    karen = api.as_("karen", "finance", email="karen@company.com")  # reports to Bob (2) in the chart
    bob = api.as_("bob", "manager", email="bob@company.com")
    ivy_manager = api.as_("zed", "manager")  # a manager, but not Karen's
    approval = await request(api, karen, await new_task(api, karen))
    assert approval["approver_user"] == "2" and approval["approver_role"] == "manager"
    assert approval["status"] == "pending" and approval["payload"] == {"reason": "above the $50K limit"}
    queue = expect(await api.client.get("/api/v1/approvals", headers=bob), 200)
    assert [a["id"] for a in queue["items"]] == [approval["id"]]
    assert expect(await api.client.get("/api/v1/approvals", headers=ivy_manager), 200)["items"] == []
    url = f"/api/v1/approvals/{approval['id']}"
    refused = expect(await api.client.post(f"{url}/approve", json={}, headers=ivy_manager), 403)["error"]
    assert refused["code"] == "not_approver" and "person 2" in refused["message"]
    decided = expect(await api.client.post(f"{url}/approve", json={"comment": "ok"}, headers=bob), 200)
    assert decided["status"] == "approved" and decided["decided_by"] == "bob" and decided["comment"] == "ok"
    assert expect(await api.client.get(url, headers=karen), 200)["status"] == "approved"


async def test_without_a_manager_the_profiles_approver_role_approves(api: Api) -> None:
    alice = api.as_("alice", "finance")  # not in any org chart: finance's approver_role is manager
    approval = await request(api, alice, await new_task(api, alice))
    assert approval["approver_user"] is None and approval["approver_role"] == "manager"
    rejected = await api.client.post(
        f"/api/v1/approvals/{approval['id']}/reject", headers=api.as_("dan", "manager")
    )
    assert expect(rejected, 200)["status"] == "rejected"


async def test_nobody_approves_their_own_request(api: Api) -> None:
    alice = api.as_("alice", "finance")
    approval = await request(api, alice, await new_task(api, alice))
    own = api.as_("alice", "finance", "manager")
    refused = await api.client.post(f"/api/v1/approvals/{approval['id']}/approve", headers=own)
    assert expect(refused, 403)["error"]["code"] == "self_approval"


async def test_a_role_without_an_approver_gets_a_409(api: Api) -> None:
    marketing = api.as_("mia", "marketing")  # marketing names no approver_role
    body = {"subject": "press_release", "reason": "launch"}
    error = expect(await api.client.post("/api/v1/approvals", json=body, headers=marketing), 409)["error"]
    assert error["code"] == "no_approver"


async def test_of_two_concurrent_decisions_exactly_one_wins(api: Api) -> None:
    alice = api.as_("alice", "finance")
    for _ in range(3):  # several rounds: the winner varies, the count never does
        approval = await request(api, alice, await new_task(api, alice))
        url = f"/api/v1/approvals/{approval['id']}"
        outcomes = await asyncio.gather(
            api.client.post(f"{url}/approve", json={"comment": "yes"}, headers=api.as_("bob", "manager")),
            api.client.post(f"{url}/reject", json={"comment": "no"}, headers=api.as_("dan", "manager")),
        )
        assert sorted(r.status_code for r in outcomes) == [200, 409]
        winner = next(r for r in outcomes if r.status_code == 200).json()
        loser = next(r for r in outcomes if r.status_code == 409).json()["error"]
        assert loser["code"] == "already_decided" and loser["details"]["current"] == winner["status"]
        assert expect(await api.client.get(url, headers=alice), 200)["status"] == winner["status"]


async def test_an_approval_expires_after_its_time(api: Api) -> None:
    alice, bob = api.as_("alice", "finance"), api.as_("bob", "manager")
    task_id = await new_task(api, alice)
    approval = await request(api, alice, task_id)
    service = api.gateway.controller_api.service  # type: ignore[union-attr]
    clock = service.now
    service.now = lambda: clock() + 3601  # type: ignore[method-assign]  # past approval_ttl_seconds
    try:
        assert expect(await api.client.get("/api/v1/approvals", headers=bob), 200)["items"] == []
        url = f"/api/v1/approvals/{approval['id']}"
        error = expect(await api.client.post(f"{url}/approve", headers=bob), 409)["error"]
        assert error["code"] == "approval_expired" and error["details"]["current"] == "expired"
        assert expect(await api.client.get(url, headers=alice), 200)["status"] == "expired"
        status = expect(await api.client.get(f"/api/v1/tasks/{task_id}/status", headers=alice), 200)
        assert status["approval"] == "expired"
    finally:
        service.now = clock  # type: ignore[method-assign]


async def test_approval_input_is_checked(api: Api) -> None:
    alice = api.as_("alice", "finance")
    error = expect(await api.client.post("/api/v1/approvals", json={"reason": "x"}, headers=alice), 400)[
        "error"
    ]
    assert "task_id or subject" in error["message"]
    missing = {"task_id": "0" * 24, "reason": "x"}
    assert (
        expect(await api.client.post("/api/v1/approvals", json=missing, headers=alice), 404)["error"]["param"]
        == "task_id"
    )
    other = await new_task(api, api.as_("bob", "legal"))  # legal -> manager: alice is no party
    refused = await api.client.post(
        "/api/v1/approvals", json={"task_id": other, "reason": "x"}, headers=alice
    )
    assert expect(refused, 403)["error"]["code"] == "not_task_party"
    long_comment = {"comment": "x" * 2001}
    approval = await request(api, alice, await new_task(api, alice))
    bad = await api.client.post(
        f"/api/v1/approvals/{approval['id']}/approve", json=long_comment, headers=alice
    )
    assert expect(bad, 400)["error"]["param"] == "comment"


async def test_an_mcp_gateway_approval_is_decided_here(api: Api) -> None:
    """The MCP gateway's contract: add_approval on the shared store, decided over this API,
    redeemed once by the gateway."""
    from gateway.db.controller import Approval

    store = api.gateway.controller
    held = Approval(
        id="ab" * 12, tenant=api.tenant, requested_by="frank", approver_role="manager",
        subject="github__merge_pr", payload={"arguments_sha256": "00" * 32}, status="pending",
        decided_by=None, note=None, created_at=1.0, decided_at=None,
    )  # fmt: skip
    await store.add_approval(held)
    bob = api.as_("bob", "manager")
    assert [
        a["id"] for a in expect(await api.client.get("/api/v1/approvals", headers=bob), 200)["items"]
    ] == [held.id]
    expect(await api.client.post(f"/api/v1/approvals/{held.id}/approve", headers=bob), 200)
    redeemed = await store.redeem_approval(held.id)
    assert redeemed is not None and redeemed.status == "used"
    assert await store.redeem_approval(held.id) is None
