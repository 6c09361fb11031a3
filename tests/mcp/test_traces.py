"""MCP traffic traced: the POST is the server span, each JSON-RPC message a child with its
stages, and the MCP server continues the trace from the gateway's forward stage."""

from __future__ import annotations

import os

import pytest

from guard import Guard
from tests.mcp.conftest import GITHUB_TOKEN_ENV, Agent, mcp_settings
from tests.support.gateway import running_gateway
from tests.support.issuer import TokenIssuer
from tests.support.mcp_servers import UPSTREAM_TOKEN, McpServers
from tests.support.otlp import KIND_INTERNAL, KIND_SERVER, OtlpReceiver

CALLER_TRACE = "5bf92f3577b34da6a3ce929d0e0e4737"
CALLER_SPAN = "10f067aa0ba902b8"


async def test_a_tool_call_is_one_trace_continued_by_the_server(
    tmp_path: os.PathLike[str],
    token_issuer: TokenIssuer,
    mcp_servers: McpServers,
    guard: Guard,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    receiver = OtlpReceiver().start()
    try:
        for name in list(os.environ):
            if name.startswith("OTEL_"):
                monkeypatch.delenv(name)
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
        monkeypatch.setenv(GITHUB_TOKEN_ENV, UPSTREAM_TOKEN)
        settings = mcp_settings(tmp_path / "state", token_issuer, mcp_servers)  # type: ignore[operator]
        async with running_gateway(settings, guard=guard) as client:
            developer = Agent(client, token_issuer.mint(sub="p-trace", roles=["developer"]), "/mcp/developer")
            await developer.initialize()
            traceparent = f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"
            response = await developer.post(
                developer.message("tools/call", {"name": "shell", "arguments": {"command": "ls"}}),
                {"traceparent": traceparent},
            )
            assert response.status_code == 200
            _, forwarded = mcp_servers.received.headers[-1]
    finally:
        receiver.stop()

    spans = receiver.traces()[CALLER_TRACE]
    (server,) = [span for span in spans if span.kind == KIND_SERVER]
    assert server.parent_id == CALLER_SPAN and server.name == "POST /mcp/{server}"  # the route, not the path
    children = [span for span in spans if span.parent_id == server.span_id]
    (message,) = [
        span for span in children if span.kind == KIND_INTERNAL and "skein.stage" not in span.attributes
    ]
    assert {"authenticate", "read", "session", "profile"} <= {
        s.attributes.get("skein.stage") for s in children
    }
    assert message.attributes["skein.decision.outcome"] == "allow"
    forward = next(s for s in spans if s.name == "stage forward" and s.parent_id == message.span_id)
    assert forwarded["traceparent"] == f"00-{CALLER_TRACE}-{forward.span_id}-01"
