"""One in-process gateway per test module for the controller tests (its start-up compiles the
policy, the expensive part); each test gets its own tenant, so tests never see each other's
tasks, approvals or org chart."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.services import Gateway
from tests.support.gateway import make_settings, running_gateway
from tests.support.issuer import TokenIssuer

ORG_CSV = (Path(__file__).parent / "data" / "demo_org_chart.csv").read_text()


@dataclass
class Api:
    """A client for one tenant: ``api.as_("alice", "finance")`` are that caller's headers."""

    client: httpx.AsyncClient
    issuer: TokenIssuer
    tenant: str

    def as_(self, sub: str, *roles: str, **claims: Any) -> dict[str, str]:
        token = self.issuer.mint(sub=sub, roles=list(roles), tenant=self.tenant, **claims)
        return {"authorization": f"Bearer {token}"}

    @property
    def gateway(self) -> Gateway:
        state: dict[str, Gateway] = self.client.app_state  # type: ignore[attr-defined]
        return state["gateway"]

    async def import_org(self, csv: str = ORG_CSV) -> httpx.Response:
        headers = {**self.as_("root", "admin"), "content-type": "text/csv"}
        return await self.client.post("/api/v1/org/import", content=csv, headers=headers)


@pytest.fixture(scope="module")
async def controller_client(
    tmp_path_factory: pytest.TempPathFactory, token_issuer_session: TokenIssuer
) -> AsyncIterator[httpx.AsyncClient]:
    issuer = token_issuer_session
    settings = make_settings(
        tmp_path_factory.mktemp("controller") / "state",
        auth={"issuer": issuer.issuer, "audience": issuer.audience},
        guard={"enabled": False},
        controller={"approval_ttl_seconds": 3600},
    )
    async with running_gateway(settings) as client:
        yield client


@pytest.fixture
def api(controller_client: httpx.AsyncClient, token_issuer_session: TokenIssuer) -> Api:
    return Api(controller_client, token_issuer_session, tenant=f"t{uuid.uuid4().hex[:10]}")


JsonCheck = Callable[[httpx.Response, int], dict[str, Any]]


def expect(response: httpx.Response, status: int) -> dict[str, Any]:
    """The JSON body of a response that must have ``status`` (the body is in the message)."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body
