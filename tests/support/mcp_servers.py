"""Real MCP servers for the gateway to sit in front of, built with the official ``mcp`` SDK.

Two servers on loopback (ephemeral ports), one uvicorn loop in a background thread:

* ``developer`` (answers with JSON): tools ``shell``, ``text_editor``, ``analyze`` and
  ``wipe`` (listed by no role), a prompt ``review`` and a resource ``notes://readme``;
* ``github`` (answers with SSE, the SDK's default; it wants Skein's credential): tools
  ``list_issues`` (reports progress, then repeats its query), ``get_issue``,
  ``create_issue``, ``merge_pr`` and ``delete_repo`` (listed by no role).

Every tool call is recorded with the arguments the server received, and every request's
headers, so tests can see exactly what left the gateway.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from mcp.server.mcpserver import Context, MCPServer
from starlette.types import ASGIApp, Receive, Scope, Send

UPSTREAM_TOKEN = "Bearer upstream-github-secret"


@dataclass
class Received:
    calls: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)  # (server, tool, arguments)
    headers: list[tuple[str, dict[str, str]]] = field(default_factory=list)  # (server, request headers)

    def last_call(self, server: str) -> tuple[str, dict[str, Any]]:
        for name, tool, arguments in reversed(self.calls):
            if name == server:
                return tool, arguments
        raise AssertionError(f"no call reached {server}")

    def calls_of(self, server: str, tool: str) -> int:
        return sum(1 for name, t, _ in self.calls if (name, t) == (server, tool))


def developer_server(received: Received) -> MCPServer:
    server = MCPServer("developer", version="1.0", log_level="WARNING")

    def record(tool: str, arguments: dict[str, Any]) -> None:
        received.calls.append(("developer", tool, arguments))

    @server.tool()
    def shell(command: str) -> str:
        """Run a shell command."""
        record("shell", {"command": command})
        return f"ran: {command}"

    @server.tool()
    def text_editor(path: str, text: str) -> str:
        """Write a file."""
        record("text_editor", {"path": path, "text": text})
        return f"wrote {len(text)} characters to {path}"

    @server.tool()
    def analyze(path: str) -> str:
        record("analyze", {"path": path})
        return f"{path} looks fine"

    @server.tool()
    def wipe(path: str) -> str:
        """A tool no role lists."""
        record("wipe", {"path": path})
        return "wiped"

    @server.prompt()
    def review(code: str) -> str:
        """Review some code."""
        return f"Please review: {code}"

    @server.resource("notes://readme")
    def readme() -> str:
        return "the team readme"

    return server


def github_server(received: Received) -> MCPServer:
    server = MCPServer("github", version="1.0", log_level="WARNING")

    def record(tool: str, arguments: dict[str, Any]) -> None:
        received.calls.append(("github", tool, arguments))

    @server.tool()
    async def list_issues(query: str, ctx: Context) -> str:
        """Search issues, reporting progress on the way; the answer repeats the query."""
        record("list_issues", {"query": query})
        for step in (1, 2):
            await ctx.report_progress(step, 2, f"searching for {query}")
        return f"no issues match {query}"

    @server.tool()
    def get_issue(number: int) -> str:
        record("get_issue", {"number": number})
        return f"issue {number}"

    @server.tool()
    def create_issue(title: str, body: str) -> str:
        record("create_issue", {"title": title, "body": body})
        return f"created issue {title!r}"

    @server.tool()
    def merge_pr(number: int) -> str:
        record("merge_pr", {"number": number})
        return f"merged pull request {number}"

    @server.tool()
    def delete_repo(name: str) -> str:
        record("delete_repo", {"name": name})
        return "deleted"

    return server


class _HeaderLog:
    """Records each request's headers before the MCP app sees it."""

    def __init__(self, app: ASGIApp, name: str, received: Received) -> None:
        self._app, self._name, self._received = app, name, received

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
            self._received.headers.append((self._name, headers))
        await self._app(scope, receive, send)


class _RequireCredential:
    """The github server accepts only Skein's own credential, as a real one would."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            if headers.get(b"authorization") != UPSTREAM_TOKEN.encode():
                await send({"type": "http.response.start", "status": 401, "headers": []})
                await send({"type": "http.response.body", "body": b""})
                return
        await self._app(scope, receive, send)


@dataclass
class McpServers:
    urls: dict[str, str]
    received: Received


@contextmanager
def running_mcp_servers() -> Iterator[McpServers]:
    received = Received()
    apps = {
        "developer": developer_server(received).streamable_http_app(json_response=True),
        "github": _RequireCredential(github_server(received).streamable_http_app()),
    }
    sockets = {name: _bound_socket() for name in apps}
    servers = [
        uvicorn.Server(uvicorn.Config(_HeaderLog(app, name, received), log_level="warning", lifespan="on"))
        for name, app in apps.items()
    ]
    loop = asyncio.new_event_loop()
    started = threading.Event()

    async def main() -> None:
        tasks = [
            asyncio.create_task(s.serve(sockets=[sockets[n]])) for s, n in zip(servers, apps, strict=True)
        ]
        while not all(s.started for s in servers):
            await asyncio.sleep(0.01)
        started.set()
        await asyncio.gather(*tasks)
        # Streams the servers left open (SSE watchers) end with the loop, not after it.
        pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    if not started.wait(30):
        raise RuntimeError("the MCP test servers did not start")
    urls = {name: f"http://127.0.0.1:{sock.getsockname()[1]}/mcp" for name, sock in sockets.items()}
    try:
        yield McpServers(urls, received)
    finally:
        for server in servers:
            server.should_exit = True
        thread.join(10)
        for sock in sockets.values():
            sock.close()


def _bound_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock
