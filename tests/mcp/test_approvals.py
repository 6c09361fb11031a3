"""Approvals: a call that needs one waits, is approved by the approver role, runs once.

The approver decides through the controller API (``POST /api/v1/approvals/{id}/approve``),
as a manager: the approver role the developer's and finance's profiles name.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.services import Gateway
from gateway.settings import Settings
from guard import Guard
from tests.mcp.conftest import Agent, audit_events, reason_of
from tests.support.gateway import REPO, running_gateway
from tests.support.issuer import TokenIssuer
from tests.support.mcp_servers import McpServers

APPROVAL_META = "skein/approval_id"


def gateway_of(client: httpx.AsyncClient) -> Gateway:
    gateway: Gateway = client.app_state["gateway"]  # type: ignore[attr-defined]
    return gateway


async def decide(client: httpx.AsyncClient, issuer: TokenIssuer, approval_id: str, verdict: str) -> None:
    """The approver (a manager) decides through the controller API."""
    manager = {"authorization": f"Bearer {issuer.mint(sub='mona', roles=['manager'])}"}
    answer = await client.post(
        f"/api/v1/approvals/{approval_id}/{verdict}", json={"comment": "checked"}, headers=manager
    )
    assert answer.status_code == 200, answer.text


async def test_a_tool_call_waits_for_an_approval_and_runs_once(
    mcp_gateway: httpx.AsyncClient, token_issuer: TokenIssuer, mcp_servers: McpServers
) -> None:
    merges = mcp_servers.received.calls_of("github", "merge_pr")
    developer = Agent(mcp_gateway, token_issuer.mint(sub="ap-dev", roles=["developer"]), "/mcp/github")
    await developer.initialize()
    asked = await developer.tool("merge_pr", {"number": 42})
    assert reason_of(asked) == "approval_required" and asked["error"]["code"] == -32002
    approval_id = asked["error"]["data"]["approval_id"]
    assert asked["error"]["data"]["status_url"] == f"/api/v1/approvals/{approval_id}"
    assert mcp_servers.received.calls_of("github", "merge_pr") == merges

    stored = await gateway_of(mcp_gateway).controller.get_approval(approval_id)
    assert stored is not None and stored.status == "pending"
    assert (stored.approver_role, stored.requested_by, stored.subject) == (
        "manager",
        "ap-dev",
        "github__merge_pr",
    )
    assert stored.payload["arguments"] == {"number": 42}  # as the server would see them

    meta = {APPROVAL_META: approval_id}
    assert reason_of(await developer.tool("merge_pr", {"number": 42}, meta)) == "approval_pending"
    await decide(mcp_gateway, token_issuer, approval_id, "approve")
    assert reason_of(await developer.tool("merge_pr", {"number": 43}, meta)) == "approval_mismatch"
    intruder = Agent(mcp_gateway, token_issuer.mint(sub="ap-other", roles=["developer"]), "/mcp/github")
    await intruder.initialize()
    assert reason_of(await intruder.tool("merge_pr", {"number": 42}, meta)) == "approval_mismatch"

    done = await developer.tool("merge_pr", {"number": 42}, meta)
    assert done["result"]["content"][0]["text"] == "merged pull request 42"
    assert mcp_servers.received.calls_of("github", "merge_pr") == merges + 1
    assert reason_of(await developer.tool("merge_pr", {"number": 42}, meta)) == "approval_used"
    assert mcp_servers.received.calls_of("github", "merge_pr") == merges + 1

    events = await audit_events(mcp_gateway, token_issuer, 7, sub="ap-dev")  # 2 to connect, 5 calls
    steps = [
        (e["reasons"][:1], e["resource"].get("approval_id")) for e in events if e["action"] == "tools.call"
    ]
    assert (["approval_required"], approval_id) in steps
    assert (["approval_pending"], approval_id) in steps
    assert (["approval_used"], approval_id) in steps
    redeemed = [e for e in events if "approval_redeemed" in e["reasons"]]
    assert len(redeemed) == 1 and redeemed[0]["allow"] is True


async def test_a_rejected_approval_never_runs(
    mcp_gateway: httpx.AsyncClient, token_issuer: TokenIssuer, mcp_servers: McpServers
) -> None:
    issues = mcp_servers.received.calls_of("github", "create_issue")
    finance = Agent(mcp_gateway, token_issuer.mint(sub="ap-fin", roles=["finance"]), "/mcp")
    await finance.initialize()
    arguments = {"title": "Budget", "body": "for alice@acme.com"}
    asked = await finance.tool("github__create_issue", arguments)
    approval_id = asked["error"]["data"]["approval_id"]
    stored = await gateway_of(mcp_gateway).controller.get_approval(approval_id)
    assert stored is not None and "alice@acme.com" not in str(stored.payload)  # finance pseudonymizes
    await decide(mcp_gateway, token_issuer, approval_id, "reject")
    refused = await finance.tool("github__create_issue", arguments, {APPROVAL_META: approval_id})
    assert reason_of(refused) == "approval_rejected"
    assert mcp_servers.received.calls_of("github", "create_issue") == issues


# -- model calls ---------------------------------------------------------------------------------

CHAT = "/v1/chat/completions"


@pytest.fixture
def approving_settings(gateway_settings: Settings, tmp_path: Path) -> Settings:
    """The repository's policies plus one rule: developers' gpt-4o calls need an approval."""
    policies = tmp_path / "policies"
    shutil.copytree(REPO / "policies", policies, ignore=shutil.ignore_patterns("*_test.rego"))
    rule = 'package gateway\n\nimport rego.v1\n\napproval_required if {\n\tinput.action == "chat"\n'
    rule += '\tinput.resource.model == "gpt-4o"\n}\n'
    (policies / "model_approvals.rego").write_text(rule)
    bundle = gateway_settings.bundle.model_copy(update={"policies_dir": policies})
    return gateway_settings.model_copy(update={"bundle": bundle})


async def test_a_model_call_waits_for_an_approval_too(
    approving_settings: Settings,
    guard: Guard,
    bearer: Callable[..., dict[str, str]],
    token_issuer: TokenIssuer,
) -> None:
    body: dict[str, Any] = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Ship it?"}]}
    caller = bearer(sub="ap-model", roles=["developer"])
    async with running_gateway(approving_settings, guard) as client:
        asked = await client.post(CHAT, json=body, headers=caller)
        assert asked.status_code == 403 and asked.json()["error"]["code"] == "approval_required"
        approval_id = asked.json()["error"]["details"]["approval_id"]
        retry = {**caller, "x-skein-approval-id": approval_id}
        assert (await client.post(CHAT, json=body, headers=retry)).json()["error"][
            "code"
        ] == "approval_pending"
        await decide(client, token_issuer, approval_id, "approve")
        other = {**body, "messages": [{"role": "user", "content": "Ship something else"}]}
        assert (await client.post(CHAT, json=other, headers=retry)).json()["error"][
            "code"
        ] == "approval_mismatch"
        assert (await client.post(CHAT, json=body, headers=retry)).status_code == 200
        again = await client.post(CHAT, json=body, headers=retry)
        assert again.status_code == 403 and again.json()["error"]["code"] == "approval_used"
        mini = {**body, "model": "gpt-4o-mini"}
        assert (await client.post(CHAT, json=mini, headers=caller)).status_code == 200  # needs none
