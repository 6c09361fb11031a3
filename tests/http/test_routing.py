"""Routing in-process: model aliases and task-aware downshift (docs/routing.md).

Real app, real JWT, real Rego over the repository's bundle, the fake provider over HTTP.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx

from guard import Guard
from tests.support.gateway import running_gateway
from tests.support.upstream import FakeProvider

Bearer = Callable[..., dict[str, str]]
CHAT = "/v1/chat/completions"


def chat(model: str, text: str = "hello") -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": text}]}


async def audit_events(client: httpx.AsyncClient, auditor: dict[str, str], expected: int) -> list[Any]:
    """The chat calls' audit events, newest first, once ``expected`` of them are written."""
    for _ in range(100):
        events = (await client.get("/audit?limit=1000", headers=auditor)).json()["events"]
        calls = [e for e in events if e["route"] == CHAT]
        if len(calls) >= expected:
            return calls
        await asyncio.sleep(0.05)
    raise AssertionError("audit events did not arrive")


async def test_aliases_resolve_per_role(
    gateway: httpx.AsyncClient, bearer: Bearer, fake_provider: FakeProvider
) -> None:
    worker = await gateway.post(CHAT, json=chat("worker"), headers=bearer(roles=["finance"]))
    assert worker.status_code == 200, worker.text
    assert worker.headers["x-skein-model"] == "gpt-4o-mini"
    assert fake_provider.received[-1]["model"] == "gpt-4o-mini"  # the provider never sees the alias
    lead = await gateway.post(CHAT, json=chat("lead"), headers=bearer(roles=["finance"]))
    assert lead.status_code == 200, lead.text
    assert lead.headers["x-skein-model"] == "claude-3-5-sonnet"
    default = await gateway.post(CHAT, json=chat("default"), headers=bearer(roles=["marketing"]))
    assert default.headers["x-skein-model"] == "gpt-4o"


async def test_an_alias_in_the_anthropic_dialect(gateway: httpx.AsyncClient, bearer: Bearer) -> None:
    body = {"model": "lead", "max_tokens": 64, "messages": [{"role": "user", "content": "hello"}]}
    response = await gateway.post("/v1/messages", json=body, headers=bearer(roles=["finance"]))
    assert response.status_code == 200, response.text
    assert response.headers["x-skein-model"] == "claude-3-5-sonnet"


async def test_an_alias_the_profile_does_not_set_is_refused(
    gateway: httpx.AsyncClient, bearer: Bearer
) -> None:
    response = await gateway.post(CHAT, json=chat("lead"), headers=bearer(roles=["admin"]))
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "model_alias_unresolved"
    assert error["message"] == "model alias lead is not set in the profiles of roles admin"


async def test_a_summary_is_served_by_the_worker(
    gateway_settings: Any, guard: Guard, bearer: Bearer, fake_provider: FakeProvider
) -> None:
    async with running_gateway(gateway_settings, guard) as client:
        finance = {**bearer(roles=["finance"]), "x-skein-task": "summarize"}
        response = await client.post(CHAT, json=chat("claude-3-5-sonnet"), headers=finance)
        assert response.status_code == 200, response.text
        assert response.headers["x-skein-model"] == "gpt-4o-mini"
        assert fake_provider.received[-1]["model"] == "gpt-4o-mini"
        coding = {**bearer(roles=["finance"]), "x-skein-task": "Code"}  # case and spaces are forgiven
        kept = await client.post(CHAT, json=chat("lead"), headers=coding)
        assert kept.headers["x-skein-model"] == "claude-3-5-sonnet"

        events = await audit_events(client, bearer(sub="carol", roles=["auditor"]), expected=2)
        coded, summarised = events[0], events[1]
        assert summarised["requested_model"] == "claude-3-5-sonnet"
        assert summarised["served_model"] == "gpt-4o-mini"
        assert summarised["reasons"] == ["task_downshifted"]
        assert summarised["resource"]["task"] == "summarize"
        assert coded["requested_model"] == "lead" and coded["served_model"] == "claude-3-5-sonnet"
        assert coded["reasons"] == ["model_alias"] and coded["resource"]["task"] == "code"

        metrics = (await client.get("/metrics")).text
        assert 'skein_task_calls_total{role="finance",task="summarize"} 1.0' in metrics
        assert 'skein_task_calls_total{role="finance",task="code"} 1.0' in metrics
        assert (
            'skein_downshifts_total{reason="task_downshifted",role="finance",task="summarize"} 1.0' in metrics
        )


async def test_an_unknown_task_is_400(gateway: httpx.AsyncClient, bearer: Bearer) -> None:
    for task in (b"poetry", "summarize\u202e".encode(), b"", b"summarize,code", b"summarize\x00"):
        headers: dict[str, Any] = {**bearer(roles=["finance"]), "x-skein-task": task}
        response = await gateway.post(CHAT, json=chat("gpt-4o-mini"), headers=headers)
        assert response.status_code == 400, task
        error = response.json()["error"]
        assert error["code"] == "invalid_task"
        assert error["message"] == (
            "header x-skein-task must be one of: chat, classify, code, extract, plan, summarize, translate"
        )
        assert "poetry" not in response.text
