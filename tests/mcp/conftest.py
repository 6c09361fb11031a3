"""Fixtures for the MCP gateway tests: real MCP servers (the official SDK) behind the real
gateway app, driven with raw JSON-RPC over an in-process httpx client.

The servers run once per test process; a gateway runs once per test module (its caches and
audit log are shared by the module's tests, which therefore use their own principals).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.settings import Settings
from guard import Guard
from tests.support.gateway import make_settings, running_gateway
from tests.support.issuer import TokenIssuer
from tests.support.mcp_servers import UPSTREAM_TOKEN, McpServers, running_mcp_servers

ACCEPT = "application/json, text/event-stream"
LEGACY = "2025-11-25"
MODERN = "2026-07-28"
GITHUB_TOKEN_ENV = "SKEIN_TEST_MCP_GITHUB_TOKEN"


@pytest.fixture(scope="session")
def mcp_servers() -> Iterator[McpServers]:
    with running_mcp_servers() as servers:
        yield servers


def mcp_settings(state_dir: Path, issuer: TokenIssuer, servers: McpServers, **overrides: Any) -> Settings:
    upstreams = {
        "developer": {"url": servers.urls["developer"]},
        "github": {
            "url": servers.urls["github"],
            "auth_env": GITHUB_TOKEN_ENV,
            "goose_command": "uvx mcp-github",
        },
    }
    return make_settings(
        state_dir,
        auth={"issuer": issuer.issuer, "audience": issuer.audience},
        mcp={"servers": upstreams, "tools_cache_seconds": 60},
        **overrides,
    )


@pytest.fixture(scope="module")
async def mcp_gateway(
    tmp_path_factory: pytest.TempPathFactory,
    token_issuer_session: TokenIssuer,
    mcp_servers: McpServers,
    guard: Guard,
) -> AsyncIterator[httpx.AsyncClient]:
    with pytest.MonkeyPatch.context() as env:
        env.setenv(GITHUB_TOKEN_ENV, UPSTREAM_TOKEN)
        settings = mcp_settings(tmp_path_factory.mktemp("mcp") / "state", token_issuer_session, mcp_servers)
        async with running_gateway(settings, guard=guard) as client:
            yield client


class Agent:
    """One principal speaking MCP to one endpoint of the gateway, with raw JSON-RPC."""

    def __init__(self, client: httpx.AsyncClient, token: str, path: str, version: str = LEGACY) -> None:
        self.client, self.path, self.version = client, path, version
        self.headers = {
            "authorization": f"Bearer {token}",
            "accept": ACCEPT,
            "content-type": "application/json",
        }
        self.session: str | None = None
        self._ids = 0

    def next_id(self) -> int:
        self._ids += 1
        return self._ids

    def request_headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = dict(self.headers)
        if self.session:
            headers["mcp-session-id"] = self.session
            headers["mcp-protocol-version"] = self.version
        elif self.version == MODERN:
            headers["mcp-protocol-version"] = MODERN
        return {**headers, **(extra or {})}

    async def post(self, body: Any, extra: dict[str, str] | None = None) -> httpx.Response:
        return await self.client.post(self.path, json=body, headers=self.request_headers(extra))

    async def initialize(self) -> httpx.Response:
        params = {
            "protocolVersion": LEGACY,
            "capabilities": {},
            "clientInfo": {"name": "test", "version": "1"},
        }
        response = await self.post(
            {"jsonrpc": "2.0", "id": self.next_id(), "method": "initialize", "params": params}
        )
        assert response.status_code == 200, response.text
        self.session = response.headers.get("mcp-session-id")
        await self.post({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return response

    def message(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"jsonrpc": "2.0", "id": self.next_id(), "method": method}
        if params is not None:
            body["params"] = params
        if self.version == MODERN:
            meta = {
                "io.modelcontextprotocol/protocolVersion": MODERN,
                "io.modelcontextprotocol/clientCapabilities": {},
            }
            body.setdefault("params", {})["_meta"] = {**meta, **body.get("params", {}).get("_meta", {})}
        return body

    async def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """One request; its JSON-RPC answer (from JSON or the SSE stream)."""
        response = await self.post(self.message(method, params))
        return answer_of(response)

    async def tool(
        self, name: str, arguments: dict[str, Any], meta: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"name": name, "arguments": arguments}
        if meta:
            params["_meta"] = meta
        return await self.call("tools/call", params)

    async def tool_names(self) -> list[str]:
        answer = await self.call("tools/list")
        return [t["name"] for t in answer["result"]["tools"]]


def answer_of(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, (response.status_code, response.text)
    if response.headers["content-type"].startswith("text/event-stream"):
        messages = sse_messages(response.text)
        answers = [m for m in messages if "result" in m or "error" in m]
        assert len(answers) == 1, messages
        return answers[0]
    document = response.json()
    assert isinstance(document, dict)
    return document


def sse_messages(text: str) -> list[dict[str, Any]]:
    import orjson

    messages = []
    for event in text.replace("\r\n", "\n").split("\n\n"):
        data = "\n".join(line[5:].lstrip() for line in event.splitlines() if line.startswith("data:"))
        if data:
            messages.append(orjson.loads(data))
    return messages


def reason_of(answer: dict[str, Any]) -> str:
    assert "error" in answer, answer
    reason = answer["error"]["data"]["reason"]
    assert isinstance(reason, str)
    return reason


async def audit_events(
    client: httpx.AsyncClient, token_issuer: TokenIssuer, wanted: int, **filters: str
) -> list[Any]:
    """The audit events matching ``filters`` (at least ``wanted``), once the writer flushed them."""
    auditor = {"authorization": f"Bearer {token_issuer.mint(sub='auditor-of-tests', roles=['auditor'])}"}
    query = "&".join(f"{k}={v}" for k, v in {"limit": "1000", **filters}.items())
    for _ in range(100):
        events = (await client.get(f"/audit?{query}", headers=auditor)).json()["events"]
        if len(events) >= wanted:
            return list(events)
        await asyncio.sleep(0.05)
    raise AssertionError(f"fewer than {wanted} audit events for {filters}")
