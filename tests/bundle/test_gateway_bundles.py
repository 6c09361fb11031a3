"""The gateway with signed bundle sources: refusing traffic without a good bundle, /readyz,
the bundle metric, and hot swaps under concurrent load without a failed request."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from gateway.bundle.store import BundleStore
from gateway.bundle.trust import TrustConfigError
from gateway.settings import BundleSettings, DevSettings, Settings
from guard import Guard
from tests.bundle.helpers import KID, Workspace, workspace
from tests.support.gateway import running_gateway

CHAT = "/v1/chat/completions"
Bearer = Callable[..., dict[str, str]]


def chat_body(model: str = "gpt-4o-mini") -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "Summarise Q3 spend"}]}


def signed_settings(base: Settings, ws: Workspace, **bundle: Any) -> Settings:
    settings = BundleSettings.model_validate(
        {"source": "file", "path": ws.bundle, "trusted_keys": {KID: ws.write_public_key()}, **bundle}
    )
    return base.model_copy(update={"bundle": settings})


def store_of(client: httpx.AsyncClient) -> BundleStore:
    store: BundleStore = client.app_state["gateway"].bundles  # type: ignore[attr-defined]
    return store


async def wait_for(client: httpx.AsyncClient, revision: str, timeout: float = 10) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        ready = await client.get("/readyz")
        body: dict[str, Any] = ready.json()
        if body["bundle"]["revision"] == revision:
            return body
        assert asyncio.get_running_loop().time() < deadline, body
        await asyncio.sleep(0.05)


async def test_unsigned_at_start_refuses_traffic_until_a_good_bundle_arrives(
    tmp_path: Path, gateway_settings: Settings, guard: Guard, bearer: Bearer
) -> None:
    ws = workspace(tmp_path)
    ws.publish("r0", signed=False)
    settings = signed_settings(gateway_settings, ws, poll_interval_seconds=0.05)
    async with running_gateway(settings, guard) as client:  # starts: it does not crash
        refused = await client.post(CHAT, json=chat_body(), headers=bearer())
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"]["code"] == "no_bundle"
        assert "[unsigned]" in refused.json()["error"]["message"]
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        bundle = ready.json()["bundle"]
        assert bundle["state"] == "no_bundle" and bundle["reason"] == "unsigned"
        assert "signatures.json" in bundle["last_error"] and bundle["source"] == f"file:{ws.bundle}"

        ws.publish("r1")  # the signed one lands; the poller picks it up
        body = await wait_for(client, "r1")
        assert body["status"] == "ready" and body["bundle"]["reason"] is None
        assert body["bundle"]["signer"] == {"method": "jws", "kid": KID, "alg": "ES256"}
        served = await client.post(CHAT, json=chat_body(), headers=bearer())
        assert served.status_code == 200, served.text


async def test_missing_file_at_start_is_503_and_readyz_says_why(
    tmp_path: Path, gateway_settings: Settings, guard: Guard
) -> None:
    ws = workspace(tmp_path)
    async with running_gateway(signed_settings(gateway_settings, ws), guard) as client:
        bundle = (await client.get("/readyz")).json()["bundle"]
    assert bundle["state"] == "no_bundle" and bundle["reason"] == "source_unavailable"


async def test_readyz_and_metrics_show_the_active_bundle(
    tmp_path: Path, gateway_settings: Settings, guard: Guard
) -> None:
    ws = workspace(tmp_path)
    ws.publish("r1")
    async with running_gateway(signed_settings(gateway_settings, ws), guard) as client:
        bundle = (await client.get("/readyz")).json()["bundle"]
        metrics = (await client.get("/metrics")).text
    assert bundle["revision"] == "r1" and bundle["digest"].startswith("sha256:")
    assert f'skein_bundle_info{{digest="{bundle["digest"]}",revision="r1"}} 1.0' in metrics
    assert 'skein_bundle_load_total{result="ok"} 1.0' in metrics


async def test_hot_swap_under_concurrent_load_fails_no_request(
    tmp_path: Path, gateway_settings: Settings, guard: Guard, bearer: Bearer
) -> None:
    ws = workspace(tmp_path)
    ws.quiet_finance()
    ws.publish("r0")
    headers = bearer()
    settings = patient_upstreams(signed_settings(gateway_settings, ws, poll_interval_seconds=3600))
    async with running_gateway(settings, guard) as client:
        store = store_of(client)

        async def swap_several_times() -> list[str]:
            revisions = []
            for number in range(1, 6):
                ws.publish(f"r{number}")
                swapped = await store.load()
                assert swapped is not None
                revisions.append(swapped.revision)
                await asyncio.sleep(0.02)
            return revisions

        calls = [client.post(CHAT, json=chat_body(), headers=headers) for _ in range(200)]
        *responses, revisions = await asyncio.gather(*calls, swap_several_times())
        ws.bundle.write_bytes(b"tampered")  # and a bad one at the end: refused, r5 stays
        await store.refresh(force=True)
        after = await client.post(CHAT, json=chat_body(), headers=headers)
    statuses = [r.status_code for r in responses]
    assert statuses == [200] * 200, [r.text for r in responses if r.status_code != 200][:3]
    assert revisions == ["r1", "r2", "r3", "r4", "r5"] and after.status_code == 200
    assert store.current().revision == "r5" and store.status()["reason"] == "malformed_archive"
    seen = audited_revisions(gateway_settings.audit_db_path)
    assert len(seen) >= 2, seen  # requests really ran on both sides of a swap


def patient_upstreams(settings: Settings) -> Settings:
    """200 calls at once open 200 upstream connections: on a loaded 2-core CI machine that can
    take longer than the default connect timeout, and this test is about swaps, not timeouts."""
    providers = {
        name: p.model_copy(update={"connect_timeout_seconds": 30.0}) for name, p in settings.providers.items()
    }
    return settings.model_copy(update={"providers": providers})


def audited_revisions(db: Path) -> set[str]:
    with sqlite3.connect(db) as conn:
        events = [orjson.loads(row[0]) for row in conn.execute("SELECT event FROM audit_events")]
    return {event["bundle_revision"] for event in events}


@pytest.mark.parametrize("dev", [True, False])
async def test_directory_source_needs_verification_off(
    gateway_settings: Settings, guard: Guard, dev: bool
) -> None:
    bundle = gateway_settings.bundle.model_copy(update={"verify": None})
    settings = gateway_settings.model_copy(update={"bundle": bundle, "dev": DevSettings(enabled=dev)})
    if dev:
        async with running_gateway(settings, guard) as client:
            assert (await client.get("/readyz")).json()["bundle"]["verified"] is False
    else:
        with pytest.raises(TrustConfigError, match="unsigned, but verification is on"):
            async with running_gateway(settings, guard):
                pass
