"""The fallback's re-check against the profiles (``Recovery._fallback_route``), with the
repository's real bundle and a policy stand-in that allows without naming a model (what a
custom bundle may answer): the re-check must be about the fallback model, not the first one."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Any

from gateway.bundle.store import ActiveBundle, BundleStore
from gateway.call import Call
from gateway.dialects.openai import CHAT
from gateway.domain import CallView, Decision, Principal
from gateway.metrics import Metrics
from gateway.settings import BundleSettings, PolicySettings, RoutingSettings
from gateway.stages.recovery import Recovery
from gateway.trail import Trail

ROOT = Path(__file__).resolve().parents[2]


class AllowsAnything:
    """A permissive policy: allow, no model named, the guard it was built with."""

    def __init__(self, decision: Decision) -> None:
        self._decision = decision

    async def decide(self, policy_input: dict[str, Any]) -> Decision:
        return self._decision


async def _bundle(tmp_path: Path) -> ActiveBundle:
    shutil.copytree(ROOT / "policies", tmp_path / "policies")
    shutil.copytree(ROOT / "bundles", tmp_path / "bundles")
    settings = BundleSettings(policies_dir=tmp_path / "policies", profiles_dir=tmp_path / "bundles")
    bundle = await BundleStore(settings, PolicySettings()).load()
    assert bundle is not None
    return bundle


async def test_a_fallback_the_role_may_not_use_is_skipped_even_when_policy_names_no_model(
    tmp_path: Path,
) -> None:
    bundle = await _bundle(tmp_path)
    finance = Principal(sub="alice", roles=("finance",))
    asked = {"principal": finance.policy_view(), "action": "chat", "resource": {"model": "gpt-4o-mini"}}
    first = await bundle.engine.decide(asked)
    assert first.allow  # finance may use gpt-4o-mini, not gpt-4o (bundles/profiles/finance.yaml)
    permissive = dataclasses.replace(bundle, engine=AllowsAnything(Decision(allow=True, guard=first.guard)))
    trail = Trail(route="/v1/chat/completions", action="chat", principal=finance)
    trail.view = CallView(action="chat", model="gpt-4o-mini")
    trail.decision = first
    call = Call(CHAT, {}, trail, bundle=permissive, policy_input=asked)
    recovery = Recovery(RoutingSettings(fallbacks={"gpt-4o-mini": ["gpt-4o"]}), {}, Metrics())

    route, why = await recovery._fallback_route(call, "gpt-4o")

    assert route is None and why == "decision_invalid"
