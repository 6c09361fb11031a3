"""The embedded engine: every rule through ``decide``, fail-closed cases and the cache."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from gateway.bundle.source import BundleContent
from gateway.domain import GuardSpec
from gateway.errors import Reason, Unavailable
from gateway.policy.embedded import EmbeddedEngine
from gateway.policy.engine import PolicyCompileError
from tests.policy.conftest import chat

Make = Callable[..., EmbeddedEngine]


async def test_allow_returns_a_typed_decision(engine: EmbeddedEngine) -> None:
    decision = await engine.decide(chat(["finance"], "claude-3-5-sonnet", time="2026-11-24T10:00:00Z"))
    assert decision.allow and decision.model == "claude-3-5-sonnet" and decision.reasons == ()
    assert decision.guard.mode == "pseudonymize" and "EMPLOYEE_ID" in decision.guard.entities


@pytest.mark.parametrize(
    ("policy_input", "code"),
    [
        (chat(["intern"], "echo"), "unknown_role"),
        (chat(["finance"], "gpt-9"), "unknown_model"),
        (chat(["finance"], "gpt-4o"), "model_not_allowed"),
        (chat(["finance"], "gpt-4o-mini", request={"max_tokens": 5000}), "max_tokens_exceeded"),
        (chat(["finance"], "gpt-4o-mini", usage={"spend_today_usd": 25.0}), "budget_exceeded"),
        (chat(["developer", "legal"], "gpt-4o"), "provider_forbidden"),
        ({"principal": {"roles": ["finance"]}, "action": "rocket.launch"}, "no_rule_matched"),
    ],
)
async def test_each_deny_rule(engine: EmbeddedEngine, policy_input: dict[str, Any], code: str) -> None:
    decision = await engine.decide(policy_input)
    assert not decision.allow
    assert code in {r.code for r in decision.reasons}
    assert all(r.message for r in decision.reasons)


async def test_downshift(engine: EmbeddedEngine) -> None:
    decision = await engine.decide(chat(["developer"], "gpt-4o", usage={"spend_today_usd": 45.0}))
    assert decision.allow and decision.model == "gpt-4o-mini"
    assert decision.reasons == (Reason("model_downshifted", "daily budget 90% used; gpt-4o -> gpt-4o-mini"),)


async def test_small_floats_in_input_and_data(engine: EmbeddedEngine) -> None:
    # 2e-05 is how Python writes tiny spends; rego-cpp must still read it.
    decision = await engine.decide(
        chat(["finance"], "text-embedding-3-small", usage={"spend_today_usd": 2e-05})
    )
    assert decision.allow


async def test_models_list(engine: EmbeddedEngine) -> None:
    decision = await engine.decide({"principal": {"roles": ["legal"]}, "action": "models.list"})
    assert decision.allow and decision.models == ("echo", "llama3.2")


# -- fixture profiles: the mechanics the sample organisation does not show -------------------


async def test_glob_star_crosses_dots(fixture_engine: Make) -> None:
    engine = fixture_engine(models={"allowed": ["llama*"]})
    assert (await engine.decide(chat(["x"], "llama3.2"))).allow


async def test_provider_not_allowed(fixture_engine: Make) -> None:
    decision = await fixture_engine(providers={"allowed": ["anthropic"]}).decide(chat(["x"], "gpt-4o"))
    assert [r.code for r in decision.reasons] == ["provider_not_allowed"]
    assert decision.reasons[0].message == "provider openai (model gpt-4o) is not allowed for roles x"


async def test_provider_forbidden(fixture_engine: Make) -> None:
    decision = await fixture_engine(providers={"forbidden": ["openai"]}).decide(chat(["x"], "gpt-4o"))
    assert [r.code for r in decision.reasons] == ["provider_forbidden"]


async def test_provider_not_local(fixture_engine: Make) -> None:
    engine = fixture_engine(privacy={"local_only": True})
    assert [r.code for r in (await engine.decide(chat(["x"], "gpt-4o"))).reasons] == ["provider_not_local"]
    assert (await engine.decide(chat(["x"], "llama3.2"))).allow
    listed = await engine.decide({"principal": {"roles": ["x"]}, "action": "models.list"})
    assert listed.models == ("echo", "llama3.2")


async def test_no_cap_and_no_budget_mean_unlimited(fixture_engine: Make) -> None:
    decision = await fixture_engine().decide(
        chat(["x"], "gpt-4o", request={"max_tokens": 10**6}, usage={"spend_today_usd": 10**6})
    )
    assert decision.allow


async def test_highest_downshift_threshold_wins(fixture_engine: Make) -> None:
    rules = [
        {"budget_used_pct": 50, "from": "gpt-4o", "to": "o3-mini"},
        {"budget_used_pct": 80, "from": "gpt-4o", "to": "gpt-4o-mini"},
    ]
    engine = fixture_engine(models={"downshift": rules}, budgets={"daily_usd": 10})
    assert (await engine.decide(chat(["x"], "gpt-4o", usage={"spend_today_usd": 6}))).model == "o3-mini"
    assert (await engine.decide(chat(["x"], "gpt-4o", usage={"spend_today_usd": 9}))).model == "gpt-4o-mini"


async def test_no_downshift_without_daily_budget(fixture_engine: Make) -> None:
    engine = fixture_engine(
        models={"downshift": [{"budget_used_pct": 50, "from": "gpt-4o", "to": "gpt-4o-mini"}]}
    )
    assert (await engine.decide(chat(["x"], "gpt-4o", usage={"spend_today_usd": 99}))).model == "gpt-4o"


# -- fail closed --------------------------------------------------------------------------------


def test_syntax_error_names_file_and_line(sample: BundleContent, sample_data: dict[str, Any]) -> None:
    broken = {
        **sample.policies,
        "broken.rego": "package gateway\n\nimport rego.v1\n\noops if {\n\tx := := 1\n}\n",
    }
    with pytest.raises(PolicyCompileError) as info:
        EmbeddedEngine(broken, sample_data)
    assert info.value.reason == "policy_engine_error"
    assert "broken.rego:6:" in info.value.message


async def test_undefined_decision_fails_closed(sample_data: dict[str, Any]) -> None:
    engine = EmbeddedEngine(
        {"g.rego": "package gateway\n\nimport rego.v1\n\ndecision := 1 if input.never\n"}, sample_data
    )
    with pytest.raises(Unavailable) as info:
        await engine.decide(chat(["finance"], "echo"))
    assert info.value.reason == "policy_undefined"


async def test_malformed_decision_fails_closed(sample_data: dict[str, Any]) -> None:
    engine = EmbeddedEngine({"g.rego": 'package gateway\n\ndecision := {"allow": "yes"}\n'}, sample_data)
    with pytest.raises(Unavailable) as info:
        await engine.decide(chat(["finance"], "echo"))
    assert info.value.reason == "policy_undefined"


async def test_unencodable_input_is_an_engine_error(engine: EmbeddedEngine) -> None:
    with pytest.raises(Unavailable) as info:
        await engine.decide({"principal": object()})
    assert info.value.reason == "policy_engine_error"


# -- cache --------------------------------------------------------------------------------------


async def test_cache_hit_and_miss(sample: BundleContent, sample_data: dict[str, Any]) -> None:
    engine = EmbeddedEngine(sample.policies, sample_data, cache_size=2)
    first = await engine.decide(chat(["finance"], "echo"))
    again = await engine.decide(chat(["finance"], "echo"))
    assert again is first and (engine.cache.hits, engine.cache.misses) == (1, 1)
    await engine.decide(chat(["finance"], "gpt-4o-mini"))
    await engine.decide(chat(["finance"], "gpt-4o"))
    assert len(engine.cache) == 2  # bounded: the least recently used entry went


async def test_cache_ignores_time_but_not_usage(sample: BundleContent, sample_data: dict[str, Any]) -> None:
    engine = EmbeddedEngine(sample.policies, sample_data, cache_size=8)
    await engine.decide(chat(["finance"], "echo", time="2026-11-24T10:00:00Z"))
    await engine.decide(chat(["finance"], "echo", time="2026-11-24T10:00:07Z"))
    assert engine.cache.hits == 1
    await engine.decide(chat(["finance"], "echo", usage={"spend_today_usd": 1.0}))
    assert engine.cache.misses == 2


async def test_cache_size_zero_disables(engine: EmbeddedEngine) -> None:
    await engine.decide(chat(["finance"], "echo"))
    await engine.decide(chat(["finance"], "echo"))
    assert len(engine.cache) == 0 and engine.cache.hits == 0


def test_guard_spec_default_is_off() -> None:
    assert GuardSpec().mode == "off"  # the policy always sends one; parse_decision defaults to block
