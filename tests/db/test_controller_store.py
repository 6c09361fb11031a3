"""One contract for the controller store, run against SQLite and Postgres alike."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.db.controller import Approval, ControllerStore, ControllerStoreError, Session, Task
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


def approval(n: int) -> Approval:
    return Approval(
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
