"""Replay and shadow, end to end: a gateway serving a signed bundle records real calls; a
candidate that tightens one rule (gpt-4o-mini frozen) changes exactly the calls that rule
covers, through `skein policy replay`, `GET /v1/replay` and a shadow bundle on live traffic."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from gateway.domain import Decision
from gateway.metrics import Metrics
from gateway.settings import Settings
from gateway.shadow import Shadow
from guard import Guard
from tests.bundle.helpers import KID, Workspace, flip, workspace
from tests.cli.helpers import skein_process
from tests.support.gateway import running_gateway

Bearer = Callable[..., dict[str, str]]
CHAT = "/v1/chat/completions"


@dataclass
class Bundles:
    """The serving bundle and the candidates, all signed by the workspace key."""

    ws: Workspace
    serving: Path
    candidates: Path  # frozen.tar.gz (gpt-4o-mini denied), same.tar.gz, tampered.tar.gz

    def settings(self, base: Settings, **bundle: Any) -> Settings:
        values = base.model_dump()
        values["bundle"] = {
            "source": "file",
            "path": self.serving,
            "verify": True,
            "trusted_keys": {KID: self.ws.write_public_key()},
            "candidates_dir": self.candidates,
            **bundle,
        }
        return Settings.model_validate(values)


@pytest.fixture
def bundles(tmp_path: Path) -> Bundles:
    ws = workspace(tmp_path / "ws")
    candidates = tmp_path / "candidates"
    candidates.mkdir()
    serving = tmp_path / "serving.tar.gz"
    serving.write_bytes(ws.build("serving"))
    (candidates / "same.tar.gz").write_bytes(ws.build("same"))
    ws.freeze_model()
    frozen = ws.build("frozen")
    (candidates / "frozen.tar.gz").write_bytes(frozen)
    (candidates / "tampered.tar.gz").write_bytes(flip(frozen, len(frozen) // 2))
    return Bundles(ws, serving, candidates)


def chat(model: str) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "hello"}]}


async def traffic(client: httpx.AsyncClient, bearer: Bearer) -> dict[str, set[str]]:
    """Allowed gpt-4o-mini calls (what the freeze changes) and the rest, by decision id."""
    calls = [
        ("alice", ["finance"], "gpt-4o-mini", 200),
        ("alice", ["finance"], "gpt-4o-mini", 200),
        ("alice", ["finance"], "gpt-4o", 403),  # denied already: the freeze changes nothing
        ("bob", ["developer"], "gpt-4o-mini", 200),
        ("bob", ["developer"], "gpt-4o", 200),
    ]
    ids: dict[str, set[str]] = {"frozen": set(), "other": set()}
    for sub, roles, model, status in calls:
        response = await client.post(CHAT, json=chat(model), headers=bearer(sub=sub, roles=roles))
        assert response.status_code == status, response.text  # the shadow never changes an answer
        kind = "frozen" if model == "gpt-4o-mini" else "other"
        ids[kind].add(response.headers["x-skein-decision-id"])
    return ids


async def shipped(client: httpx.AsyncClient, auditor: dict[str, str], count: int) -> None:
    for _ in range(100):
        found = (await client.get("/v1/decisions?limit=100", headers=auditor)).json()["decisions"]
        if len([d for d in found if d["route"] == CHAT]) >= count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("audit records did not arrive")


async def test_replay_api_and_cli_change_exactly_the_frozen_calls(
    gateway_settings: Settings, guard: Guard, bearer: Bearer, bundles: Bundles, tmp_path: Path
) -> None:
    settings = bundles.settings(gateway_settings)
    auditor = bearer(sub="carol", roles=["auditor"])
    async with running_gateway(settings, guard) as client:
        ids = await traffic(client, bearer)
        await shipped(client, auditor, 5)
        listed = (await client.get("/v1/replay/candidates", headers=auditor)).json()
        assert listed == {"candidates": ["frozen.tar.gz", "same.tar.gz", "tampered.tar.gz"]}

        report = (await client.get("/v1/replay?candidate=frozen.tar.gz", headers=auditor)).json()
        assert report["candidate"]["revision"] == "frozen"
        assert report["replayed"] == 5 and report["changed"] == 3 and report["unchanged"] == 2
        assert report["by_kind"] == {"allow_to_deny": 3}
        assert {c["decision_id"] for c in report["changes"]} == ids["frozen"]
        assert all(c["after"]["reasons"] == ["model_frozen"] for c in report["changes"])
        only_bob = (await client.get("/v1/replay?candidate=frozen.tar.gz&sub=bob", headers=auditor)).json()
        assert only_bob["replayed"] == 2 and only_bob["changed"] == 1

        same = (await client.get("/v1/replay?candidate=same.tar.gz", headers=auditor)).json()
        assert same["changed"] == 0 and same["replayed"] == 5
        tampered = await client.get("/v1/replay?candidate=tampered.tar.gz", headers=auditor)
        assert tampered.status_code == 400 and tampered.json()["error"]["code"] == "candidate_refused"
        for name in ("../serving.tar.gz", "nope.tar.gz", ""):
            missing = await client.get("/v1/replay", params={"candidate": name}, headers=auditor)
            assert missing.status_code == 404, name
        finance = await client.get("/v1/replay?candidate=frozen.tar.gz", headers=bearer(sub="alice"))
        assert finance.status_code == 403

    # The CLI, against the same audit log, with the candidate verified by the same keys.
    config = tmp_path / "skein.yaml"
    values = json.loads(settings.model_dump_json())
    config.write_text(yaml.safe_dump({"state_dir": values["state_dir"], "bundle": values["bundle"]}))
    frozen = skein_process(
        "--config", str(config), "policy", "replay", "--bundle", str(bundles.candidates / "frozen.tar.gz"),
        "--since", "1h", "--json",
    )  # fmt: skip
    assert frozen.returncode == 1, frozen.stderr
    printed = json.loads(frozen.stdout)
    assert printed["changed"] == 3 and {c["decision_id"] for c in printed["changes"]} == ids["frozen"]
    same = skein_process(
        "--config", str(config), "policy", "replay", "--bundle", str(bundles.candidates / "same.tar.gz"),
    )  # fmt: skip
    assert same.returncode == 0, same.stderr
    assert "replayed 5 decisions with candidate same: 0 changed, 5 unchanged" in same.stdout
    tampered = skein_process(
        "--config", str(config), "policy", "replay", "--bundle", str(bundles.candidates / "tampered.tar.gz"),
    )  # fmt: skip
    assert tampered.returncode == 2 and "refused" in tampered.stderr


async def test_shadow_bundle_counts_disagreements_and_changes_no_answer(
    gateway_settings: Settings,
    guard: Guard,
    bearer: Bearer,
    bundles: Bundles,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = bundles.settings(gateway_settings, shadow_path=bundles.candidates / "frozen.tar.gz")
    caplog.set_level(logging.WARNING, logger="skein.shadow")
    async with running_gateway(settings, guard) as client:
        ids = await traffic(client, bearer)  # every answer as the serving bundle decides
        metrics: Metrics = client.app_state["gateway"].metrics  # type: ignore[attr-defined]
        for _ in range(100):
            if (metrics.registry.get_sample_value("skein_shadow_evaluations_total") or 0) >= 5:
                break
            await asyncio.sleep(0.02)
        sample = metrics.registry.get_sample_value
        assert sample("skein_shadow_evaluations_total") == 5
        assert sample("skein_shadow_disagreements_total", {"kind": "allow_to_deny"}) == 3
        assert sample("skein_shadow_disagreements_total", {"kind": "deny_to_allow"}) == 0
        assert sample("skein_shadow_dropped_total") == 0
    logged = {r.decision_id for r in caplog.records if r.name == "skein.shadow"}  # type: ignore[attr-defined]
    assert logged == ids["frozen"]  # each disagreement recorded, with the call's decision id


async def test_a_full_shadow_queue_drops_and_counts() -> None:
    metrics = Metrics(process=False)
    shadow = Shadow(store=None, metrics=metrics, size=2)  # type: ignore[arg-type]  # never drained here
    for _ in range(5):
        shadow.submit({}, Decision(allow=True), "0" * 24)
    assert metrics.registry.get_sample_value("skein_shadow_dropped_total") == 3


@pytest.mark.postgres
async def test_replay_reads_the_postgres_store(
    gateway_settings: Settings,
    guard: Guard,
    bearer: Bearer,
    bundles: Bundles,
    postgres_dsn: str,
    pg_schema: str,
) -> None:
    values = bundles.settings(gateway_settings).model_dump()
    values["audit"] = {
        **values["audit"],
        "sink": "postgres",
        "postgres_dsn": postgres_dsn,
        "postgres_schema": pg_schema,
    }
    auditor = bearer(sub="carol", roles=["auditor"])
    async with running_gateway(Settings.model_validate(values), guard) as client:
        ids = await traffic(client, bearer)
        await shipped(client, auditor, 5)
        report = (await client.get("/v1/replay?candidate=frozen.tar.gz", headers=auditor)).json()
        assert report["replayed"] == 5 and report["by_kind"] == {"allow_to_deny": 3}
        assert {c["decision_id"] for c in report["changes"]} == ids["frozen"]
