"""GET /v1/decisions/{id}: a caller's own decision explained, auditors any, everyone else
404; GET /v1/decisions: the auditors' search. Real tokens, the real policy, the SQLite log."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from gateway.settings import Settings
from guard import Guard
from tests.support.gateway import running_gateway

Bearer = Callable[..., dict[str, str]]
CHAT = "/v1/chat/completions"


def chat(model: str) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "hello from alice@acme.com"}]}


async def decided(client: httpx.AsyncClient, headers: dict[str, str], model: str) -> str:
    response = await client.post(CHAT, json=chat(model), headers=headers)
    return response.headers["x-skein-decision-id"]


async def read(client: httpx.AsyncClient, decision_id: str, headers: dict[str, str]) -> httpx.Response:
    """The decision once its record reached the store (the writer ships in batches)."""
    for _ in range(100):
        response = await client.get(f"/v1/decisions/{decision_id}", headers=headers)
        if response.status_code != 404:
            return response
        await asyncio.sleep(0.05)
    return response


async def test_a_caller_reads_why_they_were_denied(
    gateway_settings: Any, guard: Guard, bearer: Bearer
) -> None:
    alice = bearer(sub="alice", roles=["finance"])
    async with running_gateway(gateway_settings, guard) as client:
        denied = await decided(client, alice, "gpt-4o")
        response = await read(client, denied, alice)
        assert response.status_code == 200
        body = response.json()
        assert body["decision_id"] == denied and body["allow"] is False and body["status"] == 403
        assert body["reasons"] == [
            {"code": "model_not_allowed", "message": "model gpt-4o is not allowed for roles finance"}
        ]
        assert body["outcome"]["allow"] is False
        assert body["bundle"]["revision"]
        assert {"authenticate", "decide", "total"} <= set(body["timings_ms"])
        recorded = body["policy_input"]
        assert recorded["principal"] == {"roles": ["finance"]}
        assert recorded["resource"]["model"] == "gpt-4o" and recorded["action"] == "chat"
        assert "hello" not in response.text and "alice@acme.com" not in response.text

        allowed = await decided(client, alice, "gpt-4o-mini")
        body = (await read(client, allowed, alice)).json()
        assert body["allow"] is True and body["outcome"]["model"] == "gpt-4o-mini"
        assert body["outcome"]["guard"] == "pseudonymize"


async def test_others_get_404_and_auditors_read_any(
    gateway_settings: Any, guard: Guard, bearer: Bearer
) -> None:
    alice, bob = bearer(sub="alice"), bearer(sub="bob")
    auditor = bearer(sub="carol", roles=["auditor"])
    async with running_gateway(gateway_settings, guard) as client:
        decision_id = await decided(client, alice, "gpt-4o")
        assert (await read(client, decision_id, auditor)).status_code == 200
        unknown = "0" * 24
        for headers, path in (
            (bob, decision_id),  # exists, not bob's: the same answer as one that does not exist
            (bob, unknown),
            (alice, unknown),
            (alice, decision_id.upper()),
            (alice, decision_id + "0"),
            (alice, "x' OR '1'='1"),
            (auditor, "..%2F..%2Fetc"),
        ):
            response = await client.get(f"/v1/decisions/{path}", headers=headers)
            assert response.status_code == 404, path
            assert response.json()["error"]["code"] in ("decision_not_found", "not_found"), path
        bob_reads = await client.get(f"/v1/decisions/{decision_id}", headers=bob)
        assert bob_reads.json()["error"]["code"] == "decision_not_found"
        assert (await client.get(f"/v1/decisions/{decision_id}")).status_code == 401


async def test_auditors_search_decisions(gateway_settings: Any, guard: Guard, bearer: Bearer) -> None:
    auditor = bearer(sub="carol", roles=["auditor"])
    async with running_gateway(gateway_settings, guard) as client:
        await decided(client, bearer(sub="alice"), "gpt-4o-mini")
        last = await decided(client, bearer(sub="alice"), "gpt-4o")
        await decided(client, bearer(sub="bob", roles=["developer"]), "gpt-4o-mini")
        await read(client, last, auditor)
        for _ in range(100):  # every record shipped
            found = (await client.get("/v1/decisions?limit=100", headers=auditor)).json()["decisions"]
            if len([d for d in found if d["route"] == CHAT]) >= 3:
                break
            await asyncio.sleep(0.05)
        page = (await client.get("/v1/decisions?sub=alice&reason=model_not_allowed", headers=auditor)).json()
        assert [d["decision_id"] for d in page["decisions"]] == [last]
        assert page["decisions"][0]["allow"] is False and page["decisions"][0]["model"] == "gpt-4o"
        by_role = (await client.get("/v1/decisions?role=developer", headers=auditor)).json()["decisions"]
        assert {d["sub"] for d in by_role} == {"bob"}
        assert (await client.get("/v1/decisions?tool=search", headers=auditor)).json()["decisions"] == []
        paged = (await client.get("/v1/decisions?sub=alice&limit=1", headers=auditor)).json()
        assert len(paged["decisions"]) == 1 and paged["next_before"] is not None
        refused = await client.get("/v1/decisions", headers=bearer(sub="alice"))
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "auditor_only"
        bad = await client.get("/v1/decisions?limit=0", headers=auditor)
        assert bad.status_code == 400


@pytest.mark.postgres
async def test_explain_reads_the_postgres_store(
    gateway_settings: Settings, guard: Guard, bearer: Bearer, postgres_dsn: str, pg_schema: str
) -> None:
    settings = on_postgres(gateway_settings, postgres_dsn, pg_schema)
    alice, bob = bearer(sub="alice"), bearer(sub="bob")
    async with running_gateway(settings, guard) as client:
        denied = await decided(client, alice, "gpt-4o")
        body = (await read(client, denied, alice)).json()
        assert body["reasons"][0]["code"] == "model_not_allowed" and body["reasons"][0]["message"]
        assert (await client.get(f"/v1/decisions/{denied}", headers=bob)).status_code == 404
        auditor = bearer(sub="carol", roles=["auditor"])
        found = (await client.get("/v1/decisions?sub=alice", headers=auditor)).json()["decisions"]
        assert [d["decision_id"] for d in found] == [denied]


@pytest.mark.postgres
async def test_a_nul_in_a_filter_is_a_400_not_a_database_error(
    gateway_settings: Settings, guard: Guard, bearer: Bearer, postgres_dsn: str, pg_schema: str
) -> None:
    """Postgres text cannot hold NUL: the value used to reach the driver and fail there (500)."""
    settings = on_postgres(gateway_settings, postgres_dsn, pg_schema)
    auditor = bearer(sub="carol", roles=["auditor"])
    async with running_gateway(settings, guard) as client:
        for name in ("sub", "role", "model", "tool", "reason"):
            for path in ("/v1/decisions", "/audit"):
                response = await client.get(f"{path}?{name}=a%00b", headers=auditor)
                assert response.status_code == 400, (path, name, response.text)
                assert response.json()["error"]["code"] == "invalid_request"
                assert "a\x00b" not in response.text
        replayed = await client.get("/v1/replay?candidate=x.tar.gz&sub=%00", headers=auditor)
        assert replayed.status_code == 400


async def test_the_same_sub_in_another_tenant_reads_nothing(
    gateway_settings: Any, guard: Guard, bearer: Bearer
) -> None:
    acme, globex = bearer(sub="alice", tenant="acme"), bearer(sub="alice", tenant="globex")
    auditor = bearer(sub="carol", roles=["auditor"])
    async with running_gateway(gateway_settings, guard) as client:
        decision_id = await decided(client, acme, "gpt-4o")
        assert (await read(client, decision_id, acme)).status_code == 200
        other = await client.get(f"/v1/decisions/{decision_id}", headers=globex)
        assert other.status_code == 404 and other.json()["error"]["code"] == "decision_not_found"
        # Filters are bound values, never patterns: SQL LIKE / glob characters match nothing.
        for hostile in ("%", "_", "*", "alic%", "' OR '1'='1", "alice' --"):
            found = await client.get("/v1/decisions", params={"sub": hostile}, headers=auditor)
            assert found.status_code == 200 and found.json()["decisions"] == [], hostile
        # Duplicate parameters: one value is used, never both, never a list reaching SQL.
        doubled = await client.get("/v1/decisions?sub=bob&sub=alice&limit=5&limit=1000000", headers=auditor)
        assert doubled.status_code in (200, 400)
        huge = await client.get("/v1/decisions?before=99999999999999999999", headers=auditor)
        assert huge.status_code == 400 and "99999999999999999999" not in huge.text


def on_postgres(settings: Settings, dsn: str, schema: str) -> Settings:
    """The same settings with the audit in Postgres (schema per test)."""
    values = settings.model_dump()
    values["audit"] = {**values["audit"], "sink": "postgres", "postgres_dsn": dsn, "postgres_schema": schema}
    return Settings.model_validate(values)
