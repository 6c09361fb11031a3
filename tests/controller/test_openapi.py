"""The OpenAPI document against the routes, both ways, and a property-based run against it:
schemathesis generates requests for every operation (valid and invalid) and no answer may be
a 5xx. It runs against a real server (uvicorn in a thread, port 0); ~300 requests, ~15 s."""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, settings
from starlette.routing import Route

from gateway.app import create_app
from gateway.controller.openapi import openapi_document
from tests.support.gateway import make_settings
from tests.support.issuer import TokenIssuer

SCHEMA = schemathesis.openapi.from_dict(openapi_document())


def test_every_route_is_documented_and_every_documented_route_exists(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path))
    routes = {
        (route.path, method)
        for route in app.app.routes
        if isinstance(route, Route) and route.path.startswith("/api/v1/")
        for method in (route.methods or ()) - {"HEAD"}
    }
    documented = {
        (path, method.upper()) for path, item in openapi_document()["paths"].items() for method in item
    }
    assert routes == documented
    assert len(documented) == 18


def test_every_operation_names_its_policy_action() -> None:
    for item in openapi_document()["paths"].values():
        for operation in item.values():
            assert operation["x-policy-action"].count(".") == 1, operation["operationId"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, token_issuer_session: TokenIssuer) -> Iterator[str]:
    issuer = token_issuer_session
    config = make_settings(
        tmp_path_factory.mktemp("schemathesis") / "state",
        auth={"issuer": issuer.issuer, "audience": issuer.audience},
        guard={"enabled": False},
    )
    uv = uvicorn.Server(uvicorn.Config(create_app(config), host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not uv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    port = uv.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    uv.should_exit = True
    thread.join(timeout=30)


@pytest.fixture(scope="module")
def callers(token_issuer_session: TokenIssuer) -> list[dict[str, str]]:
    """A finance agent, a manager and an admin: generated requests are tried as each."""
    return [
        {"authorization": "Bearer " + token_issuer_session.mint(sub=sub, roles=roles)}
        for sub, roles in (("alice", ["finance"]), ("bob", ["manager"]), ("root", ["admin"]))
    ]


@pytest.fixture(scope="module")
def task_ids(server: str, callers: list[dict[str, str]]) -> list[str]:
    """A real task, so some generated ids reach the records behind them."""
    body = {"target_role": "manager", "task_type": "budget_approval", "title": "seed"}
    created = httpx.post(f"{server}/api/v1/tasks", json=body, headers=callers[0]).json()
    return [str(created["id"])]


@SCHEMA.parametrize()
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_generated_request_is_a_server_error(
    case: Any, server: str, callers: list[dict[str, str]], task_ids: list[str]
) -> None:
    caller = callers[zlib.crc32(case.operation.label.encode()) % len(callers)]  # stable across runs
    if "task_id" in (case.path_parameters or {}) and case.path_parameters["task_id"].startswith("0"):
        case.path_parameters["task_id"] = task_ids[0]
    response = case.call(base_url=server, headers=caller, timeout=30)
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path}: {response.status_code} {response.text}"
    )
