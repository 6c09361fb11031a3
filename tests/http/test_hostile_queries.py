"""Issue 9, finding 6: out-of-range audit query values and a reflected Host header."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gateway.settings import Settings
from guard import Guard
from tests.support.gateway import running_gateway

Bearer = Callable[..., dict[str, str]]


OUT_OF_RANGE = [
    "before=" + "9" * 40,  # finding 6: this was a 500 (the database's overflow)
    "before=9223372036854775808",  # 2**63
    "before=-1",
    "before=1e3",
    "before=%EF%BC%91",  # a full-width digit: str.isdigit() says yes, the database would not
    "limit=" + "9" * 40,
    "since=1e999",  # inf
    "since=nan",
    "until=-inf",
    "since=99999999999999",  # past the year 9999
    "until=0001-01-01T00:00:00+01:00",  # before datetime's range once made UTC
    "since=yesterday",
]


async def test_out_of_range_audit_queries_are_400(gateway: Any, bearer: Bearer) -> None:
    auditor = bearer(roles=["auditor"])
    for query in OUT_OF_RANGE:  # one gateway for all: its start-up is the cost of this test
        response = await gateway.get(f"/audit?{query}", headers=auditor)
        assert response.status_code == 400, (query, response.text)
        error = response.json()["error"]
        assert error["code"] == "invalid_request", query
        name, value = query.split("=", 1)
        assert error["message"].startswith(name), query  # names the parameter...
        assert value not in error["message"], query  # ...and does not echo the value


async def test_in_range_audit_queries_pass(gateway: Any, bearer: Bearer) -> None:
    auditor = bearer(roles=["auditor"])
    for query in ("before=9223372036854775807", "since=0", "until=9999-12-31T23:59:59Z", "limit=1000"):
        response = await gateway.get(f"/audit?{query}", headers=auditor)
        assert response.status_code == 200, (query, response.text)


def _dev(settings: Settings, **server: Any) -> Settings:
    return settings.model_copy(
        update={
            "dev": settings.dev.model_copy(update={"enabled": True}),
            "server": settings.server.model_copy(update=server),
        }
    )


async def test_dev_discovery_does_not_reflect_the_host_header(
    gateway_settings: Settings, guard: Guard
) -> None:
    async with running_gateway(_dev(gateway_settings), guard) as client:
        response = await client.get("/.well-known/openid-configuration", headers={"host": "evil.example"})
    jwks_uri = response.json()["jwks_uri"]
    assert "evil" not in jwks_uri
    assert jwks_uri.endswith("/.well-known/jwks.json")


async def test_dev_discovery_uses_the_public_url(gateway_settings: Settings, guard: Guard) -> None:
    settings = _dev(gateway_settings, public_url="https://skein.example.com/")
    async with running_gateway(settings, guard) as client:
        response = await client.get("/.well-known/openid-configuration", headers={"host": "evil.example"})
    assert response.json() == {
        "issuer": settings.dev.issuer,
        "jwks_uri": "https://skein.example.com/.well-known/jwks.json",
    }
