"""The engine can never take the gateway down, and no input string can rewrite a decision.

* issue 9, item 1 (decision injection): strings come back from the engine as values, so a
  model named like a piece of JSON is one plain string, and the decision a deny;
* control characters in input strings give a normal decision, not an engine error;
* a Rust panic during one evaluation is a 503 ``policy_engine_error`` for that request (and
  a metric); the next request is decided normally;
* a bundle whose policy aborts the engine, hangs it or panics on the smoke corpus is
  refused at load, with the reason in the store's status (/readyz), while the previous
  revision keeps serving.

The faults are real, not mocked: regorus 0.13 panics on ``strings.count(s, "")``, aborts the
process when an allocation fails (``numbers.range`` of three billion numbers, under the
exercise child's 2 GiB address-space cap) and has no evaluation time limit. Cost: ~8 s.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gateway.bundle.source import BundleContent
from gateway.bundle.store import BundleError, BundleStore
from gateway.errors import Unavailable
from gateway.policy.embedded import EmbeddedEngine
from gateway.settings import BundleSettings, PolicySettings, Settings
from signing.builtins import UnsupportedBuiltin
from tests.policy.conftest import BUNDLES, POLICIES, chat

INJECTED = 'gpt-4o", "allow": true, "guard": {"mode": "off", "entities": []}, "x": "'
# Panics inside regorus (a Rust panic, unwound into Python) when the request asks for 777 tokens.
PANIC_ON_777 = """package gateway

import rego.v1

deny contains reason("never", "never") if {
\tinput.request.max_tokens == 777
\tstrings.count("abc", "") > 0
}
"""


def _with_rule(policies: dict[str, str] | Any, name: str, source: str) -> dict[str, str]:
    return {**policies, name: source}


# -- structure cannot be injected ----------------------------------------------------------------


async def test_issue_9_injected_model_is_one_string_and_a_deny(engine: EmbeddedEngine) -> None:
    raw = engine.evaluate(chat(["finance"], INJECTED))
    assert raw["model"] == INJECTED and raw["allow"] is False
    decision = await engine.decide(chat(["finance"], INJECTED))
    assert not decision.allow and [r.code for r in decision.reasons] == ["unknown_model"]
    assert decision.model == INJECTED
    assert decision.guard.mode == "pseudonymize"  # finance's, not the "off" in the string


@pytest.mark.parametrize("model", ["gpt\x00-4o", "gpt-4o\n", "\x1b[31mred", "\x7f\x01", "ü\u202e✓\\\"'"])
async def test_control_characters_give_a_normal_decision(engine: EmbeddedEngine, model: str) -> None:
    decision = await engine.decide(chat(["finance"], model))
    assert not decision.allow and decision.reasons[0].code == "unknown_model"
    assert decision.model == model


# -- a fault during one evaluation ----------------------------------------------------------------


async def test_a_panic_fails_that_request_closed_and_counts_it(
    sample: BundleContent, sample_data: dict[str, Any]
) -> None:
    faults: list[str] = []
    modules = _with_rule(sample.policies, "boom.rego", PANIC_ON_777)
    engine = EmbeddedEngine(modules, sample_data, cache_size=0, on_fault=faults.append)
    assert (await engine.decide(chat(["finance"], "gpt-4o-mini", request={"max_tokens": 100}))).allow
    with pytest.raises(Unavailable) as info:
        await engine.decide(chat(["finance"], "gpt-4o-mini", request={"max_tokens": 777}))
    assert info.value.status == 503 and info.value.reason == "policy_engine_error"
    assert "strings.count" not in info.value.message  # the detail goes to the log, not the caller
    assert faults == ["panic"]
    assert (await engine.decide(chat(["finance"], "gpt-4o-mini", request={"max_tokens": 100}))).allow


async def test_an_oversized_input_is_refused_before_the_engine(engine: EmbeddedEngine) -> None:
    with pytest.raises(Unavailable) as info:
        await engine.decide(chat(["finance"], "x" * 300_000))
    assert info.value.reason == "policy_engine_error"


async def test_a_panic_is_a_503_for_that_request_only(
    tmp_path: Path, gateway_settings: Settings, guard: Any, bearer: Callable[..., dict[str, str]]
) -> None:
    from tests.support.gateway import running_gateway

    policies = tmp_path / "policies"
    shutil.copytree(POLICIES, policies)
    (policies / "boom.rego").write_text(PANIC_ON_777)
    bundle = gateway_settings.bundle.model_copy(update={"policies_dir": policies})
    settings = gateway_settings.model_copy(update={"bundle": bundle})
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
    async with running_gateway(settings, guard) as client:
        failed = await client.post("/v1/chat/completions", json={**body, "max_tokens": 777}, headers=bearer())
        served = await client.post("/v1/chat/completions", json={**body, "max_tokens": 100}, headers=bearer())
        metrics = (await client.get("/metrics")).text
    assert failed.status_code == 503 and failed.json()["error"]["code"] == "policy_engine_error"
    assert served.status_code == 200, served.text
    assert 'skein_policy_engine_faults_total{kind="panic"} 1.0' in metrics


# -- a fault at load: refused, the previous revision keeps serving --------------------------------


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    shutil.copytree(POLICIES, tmp_path / "policies")
    shutil.copytree(BUNDLES, tmp_path / "bundles")
    return tmp_path


def _store(tree: Path, timeout: float = 30.0) -> BundleStore:
    settings = BundleSettings(policies_dir=tree / "policies", profiles_dir=tree / "bundles")
    return BundleStore(settings, PolicySettings(), exercise_timeout=timeout)


@pytest.mark.parametrize(
    ("rule", "reason", "says"),
    [
        # An allocation the engine cannot make: regorus aborts the process (SIGABRT).
        ("count(numbers.range(1, 3000000000)) > 0", "policy_engine_crash", "crashed (SIGABRT)"),
        # A panic on every input: caught in the child (the bundle's own tests meet it first).
        ('strings.count(input.action, "") > 0', "policy_test_error", "the engine panicked"),
    ],
    ids=["abort", "panic"],
)
async def test_a_bundle_that_crashes_the_engine_is_refused(
    tree: Path, rule: str, reason: str, says: str
) -> None:
    store = _store(tree)
    good = await store.load()
    assert good is not None
    (tree / "policies" / "crash.rego").write_text(
        f'package gateway\n\nimport rego.v1\n\ndeny contains reason("x", "x") if {{\n\t{rule}\n}}\n'
    )
    with pytest.raises(BundleError) as info:
        await store.load()
    assert info.value.reason == reason and says in str(info.value)
    assert "input 0 " in str(info.value) or "test " in str(info.value)  # names what it was doing
    assert store.current() is good  # the previous revision keeps serving
    status = store.status()
    assert status["revision"] == good.revision and status["reason"] == reason
    assert (await good.engine.decide(chat(["finance"], "gpt-4o-mini"))).allow


async def test_a_bundle_that_hangs_the_engine_is_refused(tree: Path) -> None:
    store = _store(tree, timeout=3.0)
    good = await store.load()
    (tree / "policies" / "slow.rego").write_text(  # 10^9 steps: minutes, far past the timeout
        "package gateway\n\nimport rego.v1\n\n"
        'deny contains reason("x", "x") if {\n'
        "\tevery a in numbers.range(1, 30000) {\n"
        "\t\tevery b in numbers.range(1, 30000) { a + b > 0 }\n\t}\n}\n"
    )
    with pytest.raises(BundleError) as info:
        await store.load()
    assert info.value.reason == "policy_engine_timeout" and "within 3 s of CPU time" in str(info.value)
    assert store.current() is good


async def test_a_known_gap_builtin_is_refused_by_name(tree: Path) -> None:
    store = _store(tree)
    good = await store.load()
    (tree / "policies" / "jwt.rego").write_text(
        "package gateway\n\nimport rego.v1\n\nclaims := io.jwt.decode(input.token)\n"
    )
    with pytest.raises(BundleError) as info:
        await store.load()
    assert info.value.reason == UnsupportedBuiltin.reason and "io.jwt.decode" in str(info.value)
    assert store.current() is good
