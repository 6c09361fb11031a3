"""GET /audit: auditor only, filters and paging over the embedded SQLite log (the Postgres
query behind the same endpoint is covered in tests/audit/test_postgres_admin.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from guard import Guard
from tests.support.gateway import running_gateway

Bearer = Callable[..., dict[str, str]]
CHAT = "/v1/chat/completions"


def chat(model: str) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "hello"}]}


async def test_auditor_reads_filters_and_pages(gateway_settings: Any, guard: Guard, bearer: Bearer) -> None:
    async with running_gateway(gateway_settings, guard) as client:
        for _ in range(3):
            await client.post(CHAT, json=chat("gpt-4o-mini"), headers=bearer(sub="alice"))
        await client.post(CHAT, json=chat("gpt-4o"), headers=bearer(sub="alice"))  # denied
        await client.post(CHAT, json=chat("gpt-4o-mini"), headers=bearer(sub="bob", roles=["developer"]))
        auditor = bearer(sub="carol", roles=["auditor"])
        await _flushed(client, auditor, expected=5)

        denied = (await client.get("/audit?decision=deny", headers=auditor)).json()["events"]
        assert [e["reasons"][0] for e in denied] == ["model_not_allowed"]
        by_role = (await client.get("/audit?role=developer", headers=auditor)).json()["events"]
        assert {e["sub"] for e in by_role} == {"bob"}
        by_model = (await client.get("/audit?model=gpt-4o-mini&sub=alice", headers=auditor)).json()["events"]
        assert len(by_model) == 3

        first = (await client.get("/audit?sub=alice&limit=2", headers=auditor)).json()
        assert len(first["events"]) == 2 and first["next_before"] is not None
        rest = (
            await client.get(f"/audit?sub=alice&limit=2&before={first['next_before']}", headers=auditor)
        ).json()
        seen = [e["request_id"] for e in first["events"] + rest["events"]]
        assert len(seen) == len(set(seen)) == 4
        assert "prompt" not in str(first) and "hello" not in str(first)


async def test_other_roles_are_refused(gateway: Any, bearer: Bearer) -> None:
    response = await gateway.get("/audit", headers=bearer(roles=["finance"]))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "auditor_only"
    assert (await gateway.get("/audit")).status_code == 401


async def test_bad_parameters_are_400(gateway: Any, bearer: Bearer) -> None:
    auditor = bearer(roles=["auditor"])
    for query in ("limit=0", "limit=5000", "since=yesterday", "decision=maybe", "before=x"):
        response = await gateway.get(f"/audit?{query}", headers=auditor)
        assert response.status_code == 400, query
        assert response.json()["error"]["code"] == "invalid_request"


async def _flushed(client: Any, auditor: dict[str, str], expected: int) -> None:
    """The writer batches every flush interval; wait until the calls are on disk."""
    import asyncio

    for _ in range(50):
        events = (await client.get("/audit?limit=1000", headers=auditor)).json()["events"]
        if len([e for e in events if e["route"] == CHAT]) >= expected:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("audit events did not arrive")
