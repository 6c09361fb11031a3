"""One contract for the controller store, run against SQLite and Postgres alike."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.db.controller import (
    Approval,
    ControllerStore,
    ControllerStoreError,
    Notification,
    Person,
    Session,
    Task,
    TaskQuery,
)
from gateway.db.controller_pg import PostgresControllerStore
from gateway.db.controller_sqlite import SqliteControllerStore
from tests.support.services import unique_name


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[ControllerStore]:
    store = SqliteControllerStore(tmp_path / "controller.db")
    await store.open()
    yield store
    await store.close()


@pytest.fixture
async def postgres_store(postgres_dsn: str, pg_schema: str) -> AsyncIterator[ControllerStore]:
    store = PostgresControllerStore(postgres_dsn, pg_schema)
    await store.open()
    yield store
    await store.close()


@pytest.fixture(params=["sqlite_store", "postgres_store"])
def store(request: pytest.FixtureRequest) -> ControllerStore:
    """Each contract test runs once per store."""
    chosen: ControllerStore = request.getfixturevalue(request.param)
    return chosen


def task(n: int, **changes: object) -> Task:
    values: dict[str, object] = {
        "id": f"t{n}",
        "tenant": "acme",
        "created_by": "alice",
        "to_role": "finance",
        "title": f"task {n}",
        "payload": {"amount": n, "tags": ["q3"]},
        "status": "pending",
        "result": None,
        "created_at": 100.0 + n,
        "updated_at": 100.0 + n,
    }
    values.update(changes)
    return Task(**values)  # type: ignore[arg-type]


def approval(n: int, **changes: object) -> Approval:
    values: dict[str, object] = dict(
        id=f"a{n}",
        tenant="acme",
        requested_by="bob",
        approver_role="manager",
        subject="github__merge_pr",
        payload={"pr": n},
        status="pending",
        decided_by=None,
        note=None,
        created_at=200.0 + n,
        decided_at=None,
    )
    values.update(changes)
    return Approval(**values)  # type: ignore[arg-type]


async def test_tasks_round_trip_and_inbox_order(store: ControllerStore) -> None:
    for n in (3, 1, 2):
        await store.add_task(task(n))
    await store.add_task(task(4, to_role="legal"))
    assert await store.get_task("t1") == task(1)
    assert await store.get_task("nope") is None
    inbox = await store.inbox("acme", "finance", "pending", 10)
    assert [t.id for t in inbox] == ["t1", "t2", "t3"]
    assert [t.id for t in await store.inbox("acme", "finance", "pending", 2)] == ["t1", "t2"]
    assert await store.inbox("other", "finance", "pending", 10) == []


async def test_task_status_is_compare_and_set(store: ControllerStore) -> None:
    await store.add_task(task(1))
    started = await store.set_task_status("t1", "pending", "in_progress", 150.0)
    assert started is not None and started.status == "in_progress" and started.updated_at == 150.0
    assert await store.set_task_status("t1", "pending", "in_progress", 151.0) is None  # someone else won
    done = await store.set_task_status("t1", "in_progress", "done", 160.0, result={"ok": True})
    assert done is not None and done.result == {"ok": True}


async def test_one_of_two_concurrent_approvers_wins(store: ControllerStore) -> None:
    await store.add_approval(approval(1))
    assert [a.id for a in await store.pending_approvals("acme", "manager", 10)] == ["a1"]
    outcomes = await asyncio.gather(
        store.decide_approval("a1", "approved", "carol", "fine", 300.0),
        store.decide_approval("a1", "rejected", "dave", None, 301.0),
    )
    winners = [o for o in outcomes if o is not None]
    assert len(winners) == 1
    stored = await store.get_approval("a1")
    assert stored == winners[0] and stored.decided_at is not None
    assert await store.pending_approvals("acme", "manager", 10) == []


async def test_an_approval_is_redeemed_once_and_only_once_approved(store: ControllerStore) -> None:
    await store.add_approval(approval(2))
    assert await store.redeem_approval("a2") is None  # still pending
    await store.decide_approval("a2", "approved", "carol", None, 300.0)
    outcomes = await asyncio.gather(store.redeem_approval("a2"), store.redeem_approval("a2"))
    assert [o.status for o in outcomes if o is not None] == ["used"]
    assert await store.redeem_approval("a2") is None


async def test_sessions_expire_and_update(store: ControllerStore) -> None:
    session = Session(
        id="s1", tenant="acme", sub="alice", data={"step": 1}, created_at=10.0, expires_at=100.0
    )
    await store.put_session(session)
    assert await store.get_session("s1", 50.0) == session
    assert await store.get_session("s1", 100.0) is None  # expired
    await store.put_session(Session("s1", "acme", "alice", {"step": 2}, 10.0, 200.0))
    refreshed = await store.get_session("s1", 150.0)
    assert refreshed is not None and refreshed.data == {"step": 2}
    await store.put_session(Session("s2", "acme", "bob", {}, 10.0, 20.0))
    assert await store.purge_sessions(50.0) == 1
    await store.delete_session("s1")
    assert await store.get_session("s1", 150.0) is None


async def test_postgres_store_refuses_an_unmigrated_schema(postgres_dsn: str) -> None:
    store = PostgresControllerStore(postgres_dsn, unique_name("skein_test"))
    with pytest.raises(ControllerStoreError, match="skein db migrate"):
        await store.open()


async def test_sqlite_store_refuses_a_newer_file(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "controller.db"
    sqlite3.connect(path).execute("PRAGMA user_version=9").connection.close()
    with pytest.raises(ControllerStoreError, match="newer than this gateway"):
        await SqliteControllerStore(path).open()


def test_the_store_follows_the_audit_database(tmp_path: Path) -> None:
    from gateway.db.stores import controller_store_from_settings
    from gateway.settings import Settings

    local = Settings.model_validate({"state_dir": tmp_path})
    assert isinstance(controller_store_from_settings(local), SqliteControllerStore)
    shared = Settings.model_validate({"audit": {"sink": "postgres", "postgres_dsn": "postgresql://db/skein"}})
    assert isinstance(controller_store_from_settings(shared), PostgresControllerStore)


async def test_tasks_list_by_filter_and_page_by_id(store: ControllerStore) -> None:
    await store.add_task(task(1, task_type="budget_approval"))
    await store.add_task(task(2, to_role="legal", created_by="bob"))
    await store.add_task(task(3, to_role="legal"))
    await store.add_task(task(4, status="done"))
    await store.add_task(task(5, tenant="other"))

    async def ids(**query: object) -> list[str]:
        return [t.id for t in await store.list_tasks(TaskQuery(tenant="acme", **query))]  # type: ignore[arg-type]

    assert await ids() == ["t1", "t2", "t3", "t4"]
    assert await ids(to_roles=("legal",)) == ["t2", "t3"]
    assert await ids(to_roles=()) == []
    assert await ids(created_by="bob") == ["t2"]
    assert await ids(to_roles=("finance",), created_by="bob") == ["t1", "t2", "t4"]  # either
    assert await ids(status="done") == ["t4"]
    assert await ids(task_type="budget_approval") == ["t1"]
    assert await ids(limit=2) == ["t1", "t2"]
    assert await ids(limit=2, after="t2") == ["t3", "t4"]
    assert await ids(after="t4") == []
    assert await ids(after="nope") == []  # an unknown cursor is an empty page, not the first
    assert (await store.get_task("t1")) == task(1, task_type="budget_approval")


async def test_approvals_for_a_person_or_a_role(store: ControllerStore) -> None:
    await store.add_approval(approval(1))  # to any manager
    await store.add_approval(approval(2, approver_user="2"))  # to person 2 only
    await store.add_approval(approval(3, approver_role="legal"))
    await store.add_approval(approval(4, status="approved"))

    async def ids(roles: tuple[str, ...], user: str | None, **more: object) -> list[str]:
        found = await store.approvals_for(
            "acme", roles, user, more.get("status", "pending"), more.get("after"), 10
        )  # type: ignore[arg-type]
        return [a.id for a in found]

    assert await ids(("manager",), None) == ["a1"]
    assert await ids(("manager",), "2") == ["a1", "a2"]
    assert await ids(("finance",), "2") == ["a2"]
    assert await ids(("manager", "legal"), None) == ["a1", "a3"]
    assert await ids((), None) == []
    assert await ids(("manager",), "2", after="a1") == ["a2"]
    assert await ids(("manager",), None, status="approved") == ["a4"]
    # The role's whole queue (the older method) still names every approval filed under it.
    assert [a.id for a in await store.pending_approvals("acme", "manager", 10)] == ["a1", "a2"]


async def test_approvals_of_a_task_and_expiry(store: ControllerStore) -> None:
    await store.add_approval(approval(1, task_id="t9", expires_at=250.0))
    await store.add_approval(approval(2, task_id="t9", expires_at=400.0))
    await store.add_approval(approval(3))  # never expires
    assert [a.id for a in await store.task_approvals("t9")] == ["a1", "a2"]
    # Past its time a pending approval can no longer be decided, even before the sweep.
    assert await store.decide_approval("a1", "approved", "carol", None, 260.0) is None
    assert await store.expire_approvals(300.0) == 1
    expired = await store.get_approval("a1")
    assert expired is not None and expired.status == "expired"
    assert await store.expire_approvals(300.0) == 0
    decided = await store.decide_approval("a2", "rejected", "carol", "no", 300.0)
    assert decided is not None and decided.status == "rejected" and decided.note == "no"


async def test_session_state_is_compare_and_set_and_expires(store: ControllerStore) -> None:
    await store.put_session(Session("s1", "acme", "alice", {}, 10.0, 100.0, "pending", 10.0))
    await store.put_session(Session("s2", "acme", "alice", {}, 10.0, 500.0, "completed", 10.0))
    active = await store.set_session_state("s1", "pending", "active", 20.0)
    assert active is not None and active.state == "active" and active.updated_at == 20.0
    assert await store.set_session_state("s1", "pending", "active", 21.0) is None  # someone else won
    outcomes = await asyncio.gather(
        store.set_session_state("s1", "active", "paused", 30.0),
        store.set_session_state("s1", "active", "completed", 30.0),
    )
    assert len([o for o in outcomes if o is not None]) == 1
    await store.set_session_state("s1", "paused", "active", 31.0)
    assert await store.expire_sessions(600.0) == 1  # s1 only: s2 is final
    found = await store.find_session("s1")
    assert found is not None and found.state == "expired" and found.updated_at == 600.0
    assert await store.get_session("s1", 600.0) is None
    assert (await store.find_session("s2")) == Session(
        "s2", "acme", "alice", {}, 10.0, 500.0, "completed", 10.0
    )
    assert await store.find_session("nope") is None


def person(user_id: str, reports_to: str | None = None, tenant: str = "acme", **changes: str) -> Person:
    values = {"name": f"P{user_id}", "role": "finance", "email": f"p{user_id}@acme.com", "department": "Fin"}
    values.update(changes)
    return Person(tenant, user_id, reports_to, **values)


async def test_the_org_chart_is_replaced_whole(store: ControllerStore) -> None:
    assert await store.replace_people("acme", [person("1"), person("2", "1")]) == 2
    await store.replace_people("other", [person("1", tenant="other", name="Other")])
    assert await store.get_person("acme", "2") == person("2", "1")
    assert await store.person_by_email("acme", "P2@ACME.com") == person("2", "1")
    assert await store.replace_people("acme", [person("3", email="x@acme.com")]) == 1
    assert await store.get_person("acme", "1") is None
    assert await store.person_by_email("acme", "p2@acme.com") is None
    assert await store.get_person("acme", "3") == person("3", email="x@acme.com")
    other = await store.get_person("other", "1")
    assert other is not None and other.name == "Other"


async def test_notifications_reach_their_roles_in_order(store: ControllerStore) -> None:
    def note(n: int, role: str, tenant: str = "acme") -> Notification:
        return Notification(f"n{n}", tenant, "alice", role, f"message {n}", "high", 100.0 + n)

    for n, role in ((1, "manager"), (2, "legal"), (3, "manager")):
        await store.add_notification(note(n, role))
    await store.add_notification(note(4, "manager", tenant="other"))
    assert [n.id for n in await store.notifications_for("acme", ["manager"], None, 10)] == ["n1", "n3"]
    assert [n.id for n in await store.notifications_for("acme", ["manager", "legal"], "n1", 10)] == [
        "n2",
        "n3",
    ]
    assert await store.notifications_for("acme", [], None, 10) == []
    assert (await store.notifications_for("acme", ["legal"], None, 1)) == [note(2, "legal")]


async def test_a_version_1_sqlite_file_is_upgraded(tmp_path: Path) -> None:
    import sqlite3

    from gateway.db.controller_sqlite import _SCHEMA_V1

    path = tmp_path / "controller.db"
    conn = sqlite3.connect(path)
    conn.executescript(_SCHEMA_V1 + "PRAGMA user_version=1;")
    conn.execute(
        "INSERT INTO controller_tasks VALUES"
        " ('t1', 'acme', 'alice', 'finance', 'old', '{}', 'pending', NULL, 1, 1)"
    )
    conn.commit()
    conn.close()
    store = SqliteControllerStore(path)
    await store.open()
    try:
        old = await store.get_task("t1")
        assert old is not None and old.task_type == "task"
        await store.add_notification(Notification("n1", "acme", "a", "manager", "hi", "low", 1.0))
    finally:
        await store.close()
