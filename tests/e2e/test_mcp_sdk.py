"""End to end: ``skein serve`` as a subprocess in front of real MCP servers, driven by the
official ``mcp`` SDK client, both the handshake revision (``mode="legacy"``: initialize,
sessions, the GET stream, DELETE) and its default ``mode="auto"`` (2026-07-28, stateless).

The approver (a manager) approves through the controller API, as in production.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from tests.support.issuer import TokenIssuer
from tests.support.mcp_servers import UPSTREAM_TOKEN, McpServers, running_mcp_servers
from tests.support.server import REPO, serve, skein

# The last test reads the audit trail the earlier ones left: the module runs on one xdist worker,
# in file order (`make test` uses --dist loadscope).
pytestmark = pytest.mark.e2e


@dataclass
class Skein:
    base: str
    state: Path
    issuer: TokenIssuer
    servers: McpServers


@pytest.fixture(scope="module")
def skein_with_mcp(
    tmp_path_factory: pytest.TempPathFactory, token_issuer_session: TokenIssuer
) -> Iterator[Skein]:
    tmp = tmp_path_factory.mktemp("e2e-mcp")
    with running_mcp_servers() as servers:
        config = {
            "state_dir": tmp / "state",
            "bundle": {"policies_dir": REPO / "policies", "profiles_dir": REPO / "bundles", "verify": False},
            "auth": {"issuer": token_issuer_session.issuer, "audience": token_issuer_session.audience},
            "guard": {"executor": "thread", "workers": 1},
            "mcp": {
                "servers": {
                    "developer": {"url": servers.urls["developer"]},
                    "github": {"url": servers.urls["github"], "auth_env": "E2E_GITHUB_TOKEN"},
                },
            },
        }
        with serve(config, tmp, env={"E2E_GITHUB_TOKEN": UPSTREAM_TOKEN}) as base:
            yield Skein(base, tmp / "state", token_issuer_session, servers)


@asynccontextmanager
async def connect(skein: Skein, sub: str, roles: list[str], path: str, mode: str) -> AsyncIterator[Client]:
    token = skein.issuer.mint(sub=sub, roles=roles)
    http = httpx2.AsyncClient(headers={"authorization": f"Bearer {token}"}, timeout=30)
    async with http, Client(streamable_http_client(skein.base + path, http_client=http), mode=mode) as client:
        yield client


def reason(error: MCPError) -> str:
    data = error.error.data
    assert isinstance(data, dict)
    return str(data["reason"])


async def test_a_session_on_one_server(skein_with_mcp: Skein) -> None:
    async with connect(skein_with_mcp, "e-dev", ["developer"], "/mcp/developer", "legacy") as client:
        assert [t.name for t in (await client.list_tools()).tools] == ["shell", "text_editor", "analyze"]
        assert (await client.call_tool("shell", {"command": "ls -la"})).content[0].text == "ran: ls -la"
        with pytest.raises(MCPError) as denied:
            await client.call_tool("shell", {"command": "rm -rf /"})
        assert reason(denied.value) == "tool_arguments_denied"
        with pytest.raises(MCPError) as hidden:
            await client.call_tool("wipe", {"path": "/"})
        assert reason(hidden.value) == "tool_not_allowed"
        assert [p.name for p in (await client.list_prompts()).prompts] == ["review"]
        read = await client.read_resource("notes://readme")
        assert read.contents[0].text == "the team readme"
    # Leaving the client ended the session (DELETE): the audit log says so (see the last test).


async def test_the_aggregated_endpoint_with_the_sdks_default_mode(skein_with_mcp: Skein) -> None:
    async with connect(skein_with_mcp, "e-dev2", ["developer"], "/mcp", "auto") as client:
        names = [t.name for t in (await client.list_tools()).tools]
        assert names[:3] == ["developer__shell", "developer__text_editor", "developer__analyze"]
        assert "github__merge_pr" in names and "github__delete_repo" not in names
        shell = await client.call_tool("developer__shell", {"command": "pwd"})
        assert shell.content[0].text == "ran: pwd"
        for spelling in ("shell", "Developer__shell", "github__delete_repo"):
            with pytest.raises(MCPError):
                await client.call_tool(spelling, {"command": "ls", "name": "x"})
        prompt = await client.get_prompt("developer__review", {"code": "x = 1"})
        assert "x = 1" in str(prompt.messages)


async def test_pii_is_masked_at_the_server_and_restored_in_the_stream(skein_with_mcp: Skein) -> None:
    progress: list[str | None] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append(message)

    async with connect(skein_with_mcp, "e-fin", ["finance"], "/mcp/github", "legacy") as client:
        result = await client.call_tool(
            "list_issues", {"query": "refund for alice@acme.com"}, progress_callback=on_progress
        )
    assert result.content[0].text == "no issues match refund for alice@acme.com"
    assert progress and all(m is not None and "alice@acme.com" in m for m in progress)
    tool, arguments = skein_with_mcp.servers.received.last_call("github")
    assert tool == "list_issues" and "alice@acme.com" not in arguments["query"]


async def test_an_approved_call_runs_once(skein_with_mcp: Skein) -> None:
    received = skein_with_mcp.servers.received
    async with connect(skein_with_mcp, "e-dev3", ["developer"], "/mcp", "legacy") as client:
        with pytest.raises(MCPError) as asked:
            await client.call_tool("github__merge_pr", {"number": 9})
        assert reason(asked.value) == "approval_required"
        data = asked.value.error.data
        assert isinstance(data, dict)
        approval_id = str(data["approval_id"])
        assert data["status_url"] == f"/api/v1/approvals/{approval_id}"

        manager = skein_with_mcp.issuer.mint(sub="mona", roles=["manager"])
        async with httpx2.AsyncClient(headers={"authorization": f"Bearer {manager}"}) as api:
            decided = await api.post(f"{skein_with_mcp.base}/api/v1/approvals/{approval_id}/approve", json={})
        assert decided.status_code == 200, decided.text

        meta = {"skein/approval_id": approval_id}
        merged = await client.call_tool("github__merge_pr", {"number": 9}, meta=meta)
        assert merged.content[0].text == "merged pull request 9"
        with pytest.raises(MCPError) as again:
            await client.call_tool("github__merge_pr", {"number": 9}, meta=meta)
        assert reason(again.value) == "approval_used"
    assert received.calls_of("github", "merge_pr") == 1


def test_every_step_is_in_an_intact_audit_chain(skein_with_mcp: Skein) -> None:
    db = skein_with_mcp.state / "audit.db"
    stored = _stored_events(db, until_reason="approval_used")  # the last step of the tests above
    verified = skein("audit", "verify", "--db", str(db))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    events: list[dict[str, Any]] = [json.loads(text) for text in stored]
    by_sub = {sub: [e for e in events if e["sub"] == sub] for sub in ("e-dev", "e-dev3", "e-fin")}
    dev = by_sub["e-dev"]
    assert {"mcp.connect", "tools.call", "prompts.list", "resources.read", "mcp.session.end"} <= {
        e["action"] for e in dev
    }
    assert any(e["reasons"][:1] == ["tool_arguments_denied"] and not e["allow"] for e in dev)
    approvals = [e for e in by_sub["e-dev3"] if e["resource"].get("approval_id")]
    assert [(e["reasons"], e["allow"]) for e in approvals] == [
        (["approval_required"], False),
        (["approval_redeemed"], True),
        (["approval_used"], False),
    ]
    decided = [e for e in events if e["sub"] == "mona" and e["action"] == "approval.decide" and e["allow"]]
    assert decided and approvals[0]["resource"]["approval_id"] in str(
        decided[0]["resource"]
    )  # the approver's step
    assert any(e["guard_entities"].get("EMAIL_ADDRESS") for e in by_sub["e-fin"])
    assert "alice@acme.com" not in str(stored) and "rm -rf" not in str(stored)


def _stored_events(db: Path, until_reason: str, timeout: float = 20.0) -> list[str]:
    """The store's records once the shipper wrote the last step (it trails the answers a little,
    more on a loaded machine)."""
    deadline = time.monotonic() + timeout
    while True:
        with sqlite3.connect(db) as conn:
            stored = [row[0] for row in conn.execute("SELECT event FROM audit_events ORDER BY pos")]
        if any(until_reason in json.loads(text)["reasons"] for text in stored) or time.monotonic() > deadline:
            return stored
        time.sleep(0.1)
