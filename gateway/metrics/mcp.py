"""MCP metrics: messages by server, method and outcome, tool calls, and tools hidden by policy."""

from __future__ import annotations

from collections.abc import Iterable

from gateway.metrics.base import MetricsBase
from gateway.metrics.labels import LabelBound


class McpMetrics(MetricsBase):
    def _define_mcp_metrics(self) -> None:
        # Servers are the configured ones and methods MCP's own (set_mcp_labels), else "other".
        self._mcp_servers, self._mcp_methods = (
            LabelBound(self._cap, known=()),
            LabelBound(self._cap, known=()),
        )
        decision = LabelBound(8)
        self._mcp_messages = self._counter(
            "mcp_messages",
            "MCP messages by server, method and outcome (allow, deny, approval, error).",
            {"server": self._mcp_servers, "method": self._mcp_methods, "decision": decision},
        )
        self._tool_calls = self._counter(
            "tool_calls",
            "MCP tools/call by server, tool and outcome (allow, deny, approval, error).",
            {"server": self._mcp_servers, "tool": LabelBound(4 * self._cap), "decision": decision},
        )
        self._tools_hidden = self._counter(
            "tools_hidden", "Tools a listing hid from the caller (policy).", {"server": self._mcp_servers}
        )

    def set_mcp_labels(self, *, servers: Iterable[str], methods: Iterable[str]) -> None:
        """Declare the configured MCP servers and the known methods; others count as ``other``."""
        self._mcp_servers.set_known(servers)
        self._mcp_methods.set_known(methods)

    def observe_mcp(self, server: str | None, method: str | None, tool: str | None, decision: str) -> None:
        self._mcp_messages.child(server, method, decision).inc()
        if method == "tools/call":
            self._tool_calls.child(server, tool, decision).inc()

    def count_tools_hidden(self, server: str, count: int) -> None:
        if count:
            self._tools_hidden.child(server).inc(count)
