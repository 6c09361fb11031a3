"""Every dashboard query against a real Prometheus scraping a live gateway.

The gateway runs under uvicorn on a real socket (Redis state, the fake provider, two real MCP
servers); Debian's ``prometheus`` scrapes it every second. After allow, deny, stream,
upstream-error, PII and tool traffic, each panel query of grafana/dashboards/ is evaluated
through Prometheus' HTTP API with the variables at "All": each must return data. Then the
variables are set: a model, role or instance that saw no traffic empties every query that
uses it, and a model or role that did narrows the request-rate panels (the filters work).
"""

from __future__ import annotations

import asyncio
import json
import math
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
import yaml

from gateway.app import create_app
from guard import Guard
from tests.mcp.conftest import GITHUB_TOKEN_ENV, Agent
from tests.support.gateway import make_settings
from tests.support.issuer import TokenIssuer
from tests.support.mcp_servers import UPSTREAM_TOKEN, McpServers, running_mcp_servers
from tests.support.server import free_port, stop_process
from tests.support.upstream import FakeProvider
from tests.test_grafana import DASHBOARDS, panels

PROMETHEUS = shutil.which("prometheus")
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.redis,
    pytest.mark.skipif(PROMETHEUS is None, reason="prometheus not installed (Debian: prometheus)"),
]
CHAT = "/v1/chat/completions"
RATE_INTERVAL = "30s"  # what Grafana's $__rate_interval is at a 1 s scrape, rounded up


@pytest.fixture
def mcp_servers() -> Iterator[McpServers]:
    with running_mcp_servers() as servers:
        yield servers


@pytest.fixture
async def live_gateway(
    tmp_path: Path,
    token_issuer: TokenIssuer,
    fake_provider: FakeProvider,
    mcp_servers: McpServers,
    redis_url: str,
    redis_prefix: str,
    guard: Guard,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[str]:
    monkeypatch.setenv("SKEIN_TEST_PROVIDER_KEY", "sk-test")
    monkeypatch.setenv(GITHUB_TOKEN_ENV, UPSTREAM_TOKEN)
    provider = {"base_url": fake_provider.base_url, "api_key_env": "SKEIN_TEST_PROVIDER_KEY"}
    settings = make_settings(
        tmp_path / "state",
        auth={"issuer": token_issuer.issuer, "audience": token_issuer.audience},
        providers={"openai": provider, "openrouter": provider},
        state={"backend": "redis", "redis_url": redis_url, "key_prefix": redis_prefix},
        routing={"breaker_failures": 5},  # the breakers panel: a state per provider
        mcp={
            "servers": {
                "developer": {"url": mcp_servers.urls["developer"]},
                "github": {"url": mcp_servers.urls["github"], "auth_env": GITHUB_TOKEN_ENV},
            }
        },
    )
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(settings, guard=guard), log_level="warning"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.02)
    yield f"127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    await task
    sock.close()


@pytest.fixture
def prometheus(live_gateway: str, tmp_path: Path) -> Iterator[str]:
    assert PROMETHEUS is not None
    port = free_port()
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [{"job_name": "skein", "static_configs": [{"targets": [live_gateway]}]}],
    }
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    log = (tmp_path / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={path}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(process)
        log.close()


async def _traffic(base: str, bearer: Callable[..., dict[str, str]], token_issuer: TokenIssuer) -> None:
    """One round of everything the dashboard shows."""

    def chat(text: str = "hello", model: str = "gpt-4o-mini", **extra: Any) -> dict[str, Any]:
        return {"model": model, "messages": [{"role": "user", "content": text}], **extra}

    async with httpx.AsyncClient(base_url=f"http://{base}", timeout=30) as client:
        calls = [
            (chat("mail jane.doe@example.com please"), bearer(roles=["finance"]), 200),
            (chat(model="gpt-4o"), bearer(sub="dev", roles=["developer"]), 200),
            (chat(model="gpt-4o"), bearer(roles=["finance"]), 403),
            # a summary served by the worker model (the routing row)
            (
                chat(model="claude-3-5-sonnet"),
                {**bearer(roles=["finance"]), "x-skein-task": "summarize"},
                200,
            ),
            (chat(stream=True), bearer(roles=["finance"]), 200),
            (chat(model="gpt-4o", stream=True), bearer(sub="dev", roles=["developer"]), 200),
            (chat("[[status:500]]"), bearer(roles=["finance"]), 500),
            (chat("[[status:429]]", model="gpt-4o"), bearer(sub="dev", roles=["developer"]), 429),
        ]
        for body, headers, status in calls:
            response = await client.post(CHAT, json=body, headers=headers)
            assert response.status_code == status, response.text
        developer = Agent(client, token_issuer.mint(sub="dev-mcp", roles=["developer"]), "/mcp/github")
        await developer.initialize()
        await developer.tool_names()  # get_issue is hidden from developers
        await developer.tool("list_issues", {"query": "bug"})
        shell = Agent(client, token_issuer.mint(sub="dev-mcp", roles=["developer"]), "/mcp/developer")
        await shell.initialize()
        await shell.tool("shell", {"command": "rm -rf /"})  # denied by its arguments


async def _query(prom: httpx.AsyncClient, expr: str) -> list[dict[str, Any]]:
    response = await prom.get("/api/v1/query", params={"query": expr})
    body = response.json()
    assert body["status"] == "success", (expr, body)
    result = body["data"]["result"]
    return result if isinstance(result, list) else [{"value": result}]


def _values(result: list[dict[str, Any]]) -> list[float]:
    return [float(item["value"][1]) for item in result]


def _expand(expr: str, model: str = ".*", role: str = ".*", instance: str = ".*") -> str:
    return (
        expr.replace("$__rate_interval", RATE_INTERVAL)
        .replace("$__range", "5m")
        .replace("$model", model)
        .replace("$role", role)
        .replace("$instance", instance)
    )


async def test_every_dashboard_query_returns_data_and_the_filters_filter(
    prometheus: str, live_gateway: str, bearer: Callable[..., dict[str, str]], token_issuer: TokenIssuer
) -> None:
    async with httpx.AsyncClient(base_url=prometheus, timeout=10) as prom:
        for _ in range(200):  # Prometheus starts, then scrapes the gateway
            try:
                ready = (await prom.get("/-/ready")).status_code == 200
            except httpx.TransportError:
                ready = False
            if ready:
                up = await _query(prom, 'up{job="skein"}')
                if up and _values(up) == [1.0]:
                    break
            await asyncio.sleep(0.1)
        else:
            pytest.fail("Prometheus never scraped the gateway")
        for _ in range(3):  # traffic across several scrapes: rates are not zero
            await _traffic(live_gateway, bearer, token_issuer)
            await asyncio.sleep(1.5)
        await asyncio.sleep(1.5)

        targets = [
            (dashboard.name, panel["title"], target["expr"])
            for dashboard in DASHBOARDS
            for panel in panels(json.loads(dashboard.read_text())["panels"])
            for target in panel.get("targets", [])
        ]
        assert len(targets) >= 30
        empty = []
        for name, title, expr in targets:
            values = _values(await _query(prom, _expand(expr)))
            if not values or all(math.isnan(v) for v in values):
                empty.append(f"{name} / {title}: {expr}")
        assert not empty, "queries without data:\n" + "\n".join(empty)

        for _name, title, expr in targets:
            for variable in ("$model", "$role", "$instance"):
                if variable in expr:  # a value that saw no traffic: nothing left
                    nowhere = _expand(expr, **{variable[1:]: "no-such-value"})
                    assert not _values(await _query(prom, nowhere)), f"{title}: {variable} does not filter"

        rate = next(expr for _, title, expr in targets if title == "Requests / s")
        everything = _values(await _query(prom, _expand(rate)))[0]
        for narrowed in ({"model": "gpt-4o"}, {"role": "finance"}, {"role": "developer"}):
            value = _values(await _query(prom, _expand(rate, **narrowed)))[0]
            assert 0 < value < everything, narrowed
