"""Tasks over HTTP: allowed, denied by policy, bad input, conflicts, idempotent replay."""

from __future__ import annotations

import asyncio

from tests.controller.conftest import Api, expect


def budget_task(**changes: object) -> dict[str, object]:
    task = {
        "target_role": "manager",
        "task_type": "budget_approval",
        "title": "Q3 marketing budget",
        "payload": {"amount_usd": 125000},
    }
    task.update(changes)
    return task


async def test_a_task_is_sent_read_and_listed(api: Api) -> None:
    finance, manager = api.as_("alice", "finance"), api.as_("bob", "manager")
    created = expect(await api.client.post("/api/v1/tasks", json=budget_task(), headers=finance), 201)
    assert (
        created["status"] == "pending"
        and created["created_by"] == "alice"
        and created["to_role"] == "manager"
    )
    task_id = created["id"]
    assert expect(await api.client.get(f"/api/v1/tasks/{task_id}", headers=manager), 200) == created
    inbox = expect(await api.client.get("/api/v1/tasks?to_role=manager", headers=manager), 200)
    assert [t["id"] for t in inbox["items"]] == [task_id] and inbox["next_after"] is None
    mine = expect(await api.client.get("/api/v1/tasks", headers=finance), 200)  # sent by alice
    assert [t["id"] for t in mine["items"]] == [task_id]


async def test_lists_page_and_filter(api: Api) -> None:
    finance = api.as_("alice", "finance")
    ids = []
    for n in range(5):
        body = budget_task(title=f"t{n}", task_type="budget_approval" if n % 2 else "review")
        ids.append(expect(await api.client.post("/api/v1/tasks", json=body, headers=finance), 201)["id"])
    first = expect(await api.client.get("/api/v1/tasks?limit=2", headers=finance), 200)
    assert [t["id"] for t in first["items"]] == ids[:2]
    rest = expect(
        await api.client.get(f"/api/v1/tasks?limit=3&after={first['next_after']}", headers=finance), 200
    )
    assert [t["id"] for t in rest["items"]] == ids[2:]
    typed = expect(await api.client.get("/api/v1/tasks?task_type=budget_approval", headers=finance), 200)
    assert [t["id"] for t in typed["items"]] == [ids[1], ids[3]]


async def test_reading_a_task_of_others_is_refused_by_policy(api: Api) -> None:
    task = expect(
        await api.client.post("/api/v1/tasks", json=budget_task(), headers=api.as_("alice", "finance")), 201
    )
    refused = await api.client.get(f"/api/v1/tasks/{task['id']}", headers=api.as_("carol", "legal"))
    error = expect(refused, 403)["error"]
    assert error["code"] == "not_task_party" and "legal" in error["message"]
    other_inbox = await api.client.get("/api/v1/tasks?to_role=manager", headers=api.as_("carol", "legal"))
    assert expect(other_inbox, 403)["error"]["code"] == "not_your_inbox"
    admin = await api.client.get("/api/v1/tasks?to_role=manager", headers=api.as_("root", "admin"))
    assert [t["id"] for t in expect(admin, 200)["items"]] == [task["id"]]


async def test_a_task_to_a_role_without_a_profile_is_refused(api: Api) -> None:
    response = await api.client.post(
        "/api/v1/tasks", json=budget_task(target_role="cfo"), headers=api.as_("alice", "finance")
    )
    assert expect(response, 403)["error"]["code"] == "unknown_target_role"


async def test_bad_input_is_a_400_naming_the_field(api: Api) -> None:
    finance = api.as_("alice", "finance")
    cases = {
        "target_role": budget_task(target_role="Manager!"),
        "title": budget_task(title=""),
        "payload": budget_task(payload=[1, 2]),
        "extra": {**budget_task(), "extra": 1},
    }
    for field, body in cases.items():
        error = expect(await api.client.post("/api/v1/tasks", json=body, headers=finance), 400)["error"]
        assert error["param"] == field, (field, error)
    bad_json = await api.client.post("/api/v1/tasks", content=b"{nope", headers=finance)
    assert expect(bad_json, 400)["error"]["code"] == "malformed_json"
    bad_limit = await api.client.get("/api/v1/tasks?limit=0", headers=finance)
    assert expect(bad_limit, 400)["error"]["param"] == "limit"
    unknown = await api.client.get("/api/v1/tasks?colour=red", headers=finance)
    assert expect(unknown, 400)["error"]["param"] == "colour"
    assert (
        expect(await api.client.get("/api/v1/tasks/not-an-id", headers=finance), 404)["error"]["code"]
        == "not_found"
    )
    missing = await api.client.get("/api/v1/tasks/" + "0" * 24, headers=finance)
    assert expect(missing, 404)["error"]["code"] == "not_found"


async def test_no_token_is_a_401(api: Api) -> None:
    response = await api.client.get("/api/v1/tasks")
    assert expect(response, 401)["error"]["code"] == "missing_credentials"
    assert "bearer" in response.headers["www-authenticate"].lower()


async def test_status_changes_are_compare_and_set(api: Api) -> None:
    finance, manager = api.as_("alice", "finance"), api.as_("bob", "manager")
    task = expect(await api.client.post("/api/v1/tasks", json=budget_task(), headers=finance), 201)
    url = f"/api/v1/tasks/{task['id']}"
    started = expect(await api.client.patch(url, json={"status": "in_progress"}, headers=manager), 200)
    assert started["status"] == "in_progress"
    # Two workers finish at once: exactly one wins, the other learns the task's status.
    outcomes = await asyncio.gather(
        api.client.patch(
            url, json={"status": "done", "result": {"ok": True}}, headers=api.as_("bob", "manager")
        ),
        api.client.patch(url, json={"status": "failed"}, headers=api.as_("dan", "manager")),
    )
    assert sorted(r.status_code for r in outcomes) == [200, 409]
    loser = next(r for r in outcomes if r.status_code == 409).json()["error"]
    winner = next(r for r in outcomes if r.status_code == 200).json()
    assert loser["details"]["current"] == winner["status"]
    again = expect(await api.client.patch(url, json={"status": "in_progress"}, headers=manager), 409)["error"]
    assert again["code"] == "invalid_transition" and again["details"]["current"] == winner["status"]
    stale = await api.client.patch(
        url, json={"status": "done", "expected_status": "pending"}, headers=manager
    )
    assert expect(stale, 409)["error"]["details"]["current"] == winner["status"]


async def test_only_workers_update_and_only_the_sender_cancels(api: Api) -> None:
    finance, manager = api.as_("alice", "finance"), api.as_("bob", "manager")
    task = expect(await api.client.post("/api/v1/tasks", json=budget_task(), headers=finance), 201)
    url = f"/api/v1/tasks/{task['id']}"
    assert (
        expect(await api.client.patch(url, json={"status": "done"}, headers=finance), 403)["error"]["code"]
        == "not_task_worker"
    )
    assert (
        expect(await api.client.post(f"{url}/cancel", headers=manager), 403)["error"]["code"]
        == "not_task_sender"
    )
    cancelled = expect(await api.client.post(f"{url}/cancel", headers=finance), 200)
    assert cancelled["status"] == "cancelled"
    again = expect(await api.client.post(f"{url}/cancel", headers=finance), 409)["error"]
    assert again["details"]["current"] == "cancelled"
