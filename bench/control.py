"""Start, probe and stop targets: process groups, readiness, smoke tests, the guard check."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from bench import payloads, proc
from bench.targets import Target


class TargetError(RuntimeError):
    """A target did not start, did not become ready or failed its smoke test."""


class GuardUnavailable(TargetError):
    """The gateway cannot run the guard scenario (it said so, or forwarded PII unmasked)."""


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes


def http(
    method: str,
    url: str,
    token: str = "",
    body: bytes | None = None,
    timeout: float = 10.0,
    headers: dict[str, str] | None = None,
) -> Reply:
    request = urllib.request.Request(url, data=body, method=method)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if body is not None:
        request.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Reply(
                response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
            )
    except urllib.error.HTTPError as exc:
        return Reply(exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read())


class Process:
    """A command run pinned to some CPUs in its own process group (so it can be stopped whole)."""

    def __init__(
        self, command: tuple[str, ...], cpus: str | None, env: dict[str, str], cwd: Path, log: IO[str]
    ):
        pinned = ("taskset", "-c", cpus, *command) if cpus else command
        self.popen = subprocess.Popen(
            pinned,
            cwd=cwd,
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pgid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, grace_s: float = 15.0) -> None:
        self._signal(signal.SIGTERM)
        try:
            self.popen.wait(grace_s)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
            self.popen.wait(5)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and proc.process_tree({self.pgid}, set()):
            time.sleep(0.2)
        leftovers = proc.process_tree({self.pgid}, set())
        if leftovers:
            self._signal(signal.SIGKILL)

    def _signal(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pgid, sig)


def wait_ready(url: str, token: str, timeout_s: float, process: Process | None = None) -> float:
    started = time.monotonic()
    last = "no answer"
    while time.monotonic() - started < timeout_s:
        if process is not None and not process.alive():
            raise TargetError(f"{url}: process exited with {process.popen.returncode} before it was ready")
        try:
            reply = http("GET", url, token, timeout=3)
            if reply.status == 200:
                return time.monotonic() - started
            last = f"status {reply.status}: {reply.body[:200]!r}"
        except OSError as exc:
            last = repr(exc)
        time.sleep(0.3)
    raise TargetError(f"{url} not ready after {timeout_s:.0f} s: {last}")


def smoke(target: Target, bodies: dict[str, Path]) -> dict[str, Any]:
    """One normal and one streamed completion through the target; raises TargetError if wrong."""
    url = target.url + "/v1/chat/completions"
    info: dict[str, Any] = {}
    reply = http("POST", url, target.token, bodies["nonstream"].read_bytes())
    if reply.status != 200:
        raise TargetError(f"chat completion answered {reply.status}: {reply.body[:300]!r}")
    content = json.loads(reply.body)["choices"][0]["message"]["content"]
    if not content:
        raise TargetError("chat completion has no content")
    if target.header and target.header in reply.headers:
        info[target.header] = reply.headers[target.header]
    reply = http("POST", url, target.token, bodies["stream"].read_bytes())
    events = [line for line in reply.body.split(b"\n") if line.startswith(b"data:")]
    info["stream_events"] = len(events)
    info["stream_content_type"] = reply.headers.get("content-type", "")
    if reply.status != 200 or not events or events[-1].strip() != b"data: [DONE]":
        raise TargetError(f"stream answered {reply.status}, {len(events)} events: {reply.body[-200:]!r}")
    return info


@dataclass(frozen=True)
class McpSession:
    """Where and how wrk POSTs MCP messages: the path and the session's headers."""

    path: str
    headers: dict[str, str]


MCP_VERSION = "2025-11-25"


def open_mcp(target: Target, body: Path) -> McpSession:
    """An MCP session with the target (initialize, initialized), smoke-tested with one call."""
    assert target.mcp_path is not None
    url = target.url + target.mcp_path
    accept = {"Accept": "application/json, text/event-stream"}
    params = {
        "protocolVersion": MCP_VERSION,
        "capabilities": {},
        "clientInfo": {"name": "bench", "version": "1"},
    }
    init = json.dumps({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": params}).encode()
    reply = http("POST", url, target.token, init, headers=accept)
    session_id = reply.headers.get("mcp-session-id")
    if reply.status != 200 or not session_id:
        raise TargetError(f"MCP initialize answered {reply.status}: {reply.body[:300]!r}")
    headers = {**accept, "Mcp-Session-Id": session_id, "MCP-Protocol-Version": MCP_VERSION}
    http(
        "POST", url, target.token, b'{"jsonrpc":"2.0","method":"notifications/initialized"}', headers=headers
    )
    reply = http("POST", url, target.token, body.read_bytes(), headers=headers)
    if reply.status != 200 or b'"result"' not in reply.body:
        raise TargetError(f"MCP tools/call answered {reply.status}: {reply.body[:300]!r}")
    return McpSession(target.mcp_path, headers)


def check_guard(target: Target, upstream_url: str, upstream_key: str, bodies: dict[str, Path]) -> str:
    """Did the prompt reach the upstream pseudonymized (guard on) or verbatim (guard off)?

    Sends one completion and reads back what the fake upstream received. Raises
    GuardUnavailable when the guard scenario cannot run; returns a one-line finding.
    """
    reply = http("POST", target.url + "/v1/chat/completions", target.token, bodies["nonstream"].read_bytes())
    if reply.status != 200:
        raise GuardUnavailable(f"gateway answered {reply.status}: {_error_message(reply.body)}")
    seen = http("GET", upstream_url + "/_bench/last", upstream_key).body
    verbatim = payloads.GUARD_PROBE.encode() in seen
    if target.guard_expected and verbatim:
        raise GuardUnavailable(
            "the gateway forwarded the e-mail address unmasked: the guard did not pseudonymize "
            "(not wired into the pipeline yet, or the role's privacy mode is not applied)"
        )
    if target.guard_expected:
        return "upstream saw the prompt pseudonymized"
    return (
        "upstream saw the prompt verbatim" if verbatim else "WARNING: guard off, yet the prompt was rewritten"
    )


def _error_message(body: bytes) -> str:
    try:
        error = json.loads(body).get("error", {})
        return str(error.get("message") or error)[:300]
    except (ValueError, AttributeError):
        return body[:300].decode(errors="replace")
