"""Sessions, profiles, the org chart and notifications over HTTP."""

from __future__ import annotations

import pytest

from tests.controller.conftest import Api, expect


async def test_a_session_follows_the_state_machine(api: Api) -> None:
    alice = api.as_("alice", "finance")
    session = expect(
        await api.client.post("/api/v1/sessions", json={"data": {"agent": "goose"}}, headers=alice), 201
    )
    assert session["state"] == "pending" and session["data"] == {"agent": "goose"}
    url = f"/api/v1/sessions/{session['id']}"

    async def move(state: str, status: int = 200) -> dict[str, object]:
        return expect(await api.client.patch(url, json={"state": state}, headers=alice), status)

    assert (await move("paused", 409))["error"]["details"]["current"] == "pending"  # type: ignore[index]
    for state in ("active", "paused", "active", "completed"):
        assert (await move(state))["state"] == state
    error = (await move("active", 409))["error"]
    assert error["code"] == "invalid_transition" and error["details"]["current"] == "completed"  # type: ignore[index]
    assert (await move("expired", 409))["error"]["details"]["current"] == "completed"  # type: ignore[index]
    assert (await move("sleeping", 400))["error"]["param"] == "state"  # type: ignore[index]


async def test_a_session_is_its_owners_and_expires_by_itself(api: Api) -> None:
    alice = api.as_("alice", "finance")
    session = expect(await api.client.post("/api/v1/sessions", json={"ttl_seconds": 60}, headers=alice), 201)
    url = f"/api/v1/sessions/{session['id']}"
    refused = await api.client.get(url, headers=api.as_("bob", "finance"))
    assert expect(refused, 403)["error"]["code"] == "not_session_owner"
    assert expect(await api.client.get(url, headers=api.as_("root", "admin")), 200)["id"] == session["id"]
    service = api.gateway.controller_api.service  # type: ignore[union-attr]
    clock = service.now
    service.now = lambda: clock() + 61  # type: ignore[method-assign]
    try:
        assert expect(await api.client.get(url, headers=alice), 200)["state"] == "expired"
        late = await api.client.patch(url, json={"state": "active"}, headers=alice)
        assert expect(late, 409)["error"]["details"]["current"] == "expired"
    finally:
        service.now = clock  # type: ignore[method-assign]
    too_long = await api.client.post("/api/v1/sessions", json={"ttl_seconds": 10**9}, headers=alice)
    assert expect(too_long, 400)["error"]["param"] == "ttl_seconds"


async def test_profiles_as_the_bundle_says(api: Api) -> None:
    finance = expect(
        await api.client.get("/api/v1/profiles/finance", headers=api.as_("alice", "finance")), 200
    )
    assert finance["role"] == "finance" and finance["approvals"]["approver_role"] == "manager"
    assert finance["bundle_revision"] and "gpt-4o-mini" in finance["models"]["allowed"]
    refused = await api.client.get("/api/v1/profiles/manager", headers=api.as_("alice", "finance"))
    assert expect(refused, 403)["error"]["code"] == "not_own_profile"
    admin = api.as_("root", "admin")
    assert expect(await api.client.get("/api/v1/profiles/manager", headers=admin), 200)["role"] == "manager"
    assert (
        expect(await api.client.get("/api/v1/profiles/nobody", headers=admin), 404)["error"]["code"]
        == "not_found"
    )
    assert (
        expect(await api.client.get("/api/v1/profiles/Bad!", headers=admin), 404)["error"]["code"]
        == "not_found"
    )


async def test_the_org_chart_import_is_for_admins(api: Api) -> None:
    imported = expect(await api.import_org(), 200)
    assert imported == {"tenant": api.tenant, "imported": 50}
    refused = await api.client.post(
        "/api/v1/org/import", content="x", headers={**api.as_("bob", "manager"), "content-type": "text/csv"}
    )
    assert expect(refused, 403)["error"]["code"] == "admin_only"


@pytest.mark.parametrize(
    ("csv", "problem"),
    [
        ("user_id,name\n1,a\n", "line 1: missing column(s): reports_to_id, role, email, department"),
        (
            "user_id,reports_to_id,name,role,email,department\n1,9,A,finance,a@x.com,F\n",
            "line 2, reports_to_id",
        ),
        (
            "user_id,reports_to_id,name,role,email,department\n1,2,A,finance,a@x.com,F\n2,1,B,hr,b@x.com,F\n",
            "reporting cycle 1 -> 2 -> 1 (1 on line 2, 2 on line 3)",
        ),
        (
            "user_id,reports_to_id,name,role,email,department\n1,,A,finance,a@x.com,F\n1,,B,hr,b@x.com,F\n",
            "line 3",
        ),
    ],
)
async def test_a_bad_org_chart_names_the_line(api: Api, csv: str, problem: str) -> None:
    error = expect(await api.import_org(csv), 400)["error"]
    assert error["code"] == "invalid_org_chart" and problem in error["message"], error["message"]
    assert error["details"]["problems"][0]["line"] >= 1


async def test_a_bad_org_chart_changes_nothing(api: Api) -> None:
    expect(await api.import_org(), 200)
    expect(
        await api.import_org("user_id,reports_to_id,name,role,email,department\n1,7,A,finance,a@x.com,F\n"),
        400,
    )
    person = await api.gateway.controller.get_person(api.tenant, "50")
    assert person is not None and person.name == "Xena Stewart"
    latin1 = {**api.as_("root", "admin"), "content-type": "text/csv"}
    undecodable = await api.client.post(
        "/api/v1/org/import", content="user_id\n\xe9".encode("latin-1"), headers=latin1
    )
    assert expect(undecodable, 400)["error"]["param"] == "body"
    wrong_type = {**api.as_("root", "admin"), "content-type": "application/json"}
    assert (await api.client.post("/api/v1/org/import", content="{}", headers=wrong_type)).status_code == 415


async def test_notifications_reach_the_target_role(api: Api) -> None:
    alice = api.as_("alice", "finance")
    body = {"target_role": "manager", "message": "Q3 budget needs you", "priority": "high"}
    sent = expect(await api.client.post("/api/v1/notifications", json=body, headers=alice), 201)
    assert sent["sender"] == "alice" and sent["priority"] == "high"
    inbox = expect(await api.client.get("/api/v1/notifications", headers=api.as_("bob", "manager")), 200)
    assert [n["id"] for n in inbox["items"]] == [sent["id"]]
    assert expect(await api.client.get("/api/v1/notifications", headers=alice), 200)["items"] == []
    bad = await api.client.post("/api/v1/notifications", json={**body, "priority": "asap"}, headers=alice)
    assert expect(bad, 400)["error"]["param"] == "priority"
    nobody = await api.client.post(
        "/api/v1/notifications", json={**body, "target_role": "cfo"}, headers=alice
    )
    assert expect(nobody, 403)["error"]["code"] == "unknown_target_role"


async def test_every_call_is_audited_with_what_it_touched(api: Api) -> None:
    import asyncio

    sender, stranger = f"alice-{api.tenant}", f"carol-{api.tenant}"
    body = {"target_role": "manager", "task_type": "budget_approval", "title": "audited"}
    task = expect(await api.client.post("/api/v1/tasks", json=body, headers=api.as_(sender, "finance")), 201)
    expect(await api.client.get(f"/api/v1/tasks/{task['id']}", headers=api.as_(stranger, "legal")), 403)
    auditor = api.as_("eve", "auditor")
    events: list[dict[str, object]] = []
    for _ in range(200):  # the writer batches: wait until both events are stored
        for sub in (sender, stranger):
            found = expect(await api.client.get(f"/audit?sub={sub}", headers=auditor), 200)["events"]
            events += [e for e in found if e not in events]
        if len(events) >= 2:
            break
        await asyncio.sleep(0.05)
    by_action = {e["action"]: e for e in events}
    sent, refused = by_action["task.send"], by_action["task.read"]
    assert sent["allow"] is True and sent["status"] == 201 and sent["route"] == "/api/v1/tasks"
    assert sent["resource"]["task_id"] == task["id"] and sent["tenant"] == api.tenant  # type: ignore[index]
    assert refused["allow"] is False and refused["status"] == 403 and refused["reasons"] == ["not_task_party"]
    assert refused["resource"]["task_id"] == task["id"]  # type: ignore[index]
