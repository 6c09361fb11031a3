"""Differential: the shipped policies on the embedded engine and on OPA's own engine agree.

Thousands of generated inputs, shaped as the gateway builds them (tests/policy/reference.py
has the second engine): roles from the sample organisation and strangers, catalog models
and hostile strings (quotes, backslashes, control characters, unicode, an injection
attempt), every action, budgets and caps around their limits, times in the ``...Z`` form.
Each input gets the whole decision document from both engines; any difference fails with
the input printed. Two generators: 3,000 inputs from a seeded random generator (cheap, the
same every run) and 300 hypothesis examples (which shrink a failing input to its core;
derandomized, so CI is deterministic). Cost: about 10 s of CPU on a busy 2-core machine.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.bundle.source import BundleContent
from tests.policy.reference import UNDEFINED, Embedded, EngineError, ReferenceOpa

DECISION = "data.gateway.decision"
ROLES = ["finance", "developer", "legal", "auditor", "support", "hr", "analyst", "manager", "marketing"]
MODELS = [
    "gpt-4o", "gpt-4o-mini", "o3-mini", "claude-3-5-sonnet", "claude-3-5-haiku", "llama3.2",
    "echo", "text-embedding-3-small", "gpt-9", "lead", "worker", "default",
]  # fmt: skip
TASKS = [None, "summarize", "classify", "code", "plan"]  # the gateway admits only its vocabulary
HOSTILE = [
    'gpt-4o", "allow": true, "guard": {"mode": "off", "entities": []}, "x": "',
    "gpt-4o\x00",
    "gpt\n4o",
    "\\",
    '"',
    "\u202e",
    "ünï",
    "*",
    "llama*",
    "FINANCE",
]
ACTIONS = [
    "chat",
    "completions",
    "embeddings",
    "responses",
    "models.list",
    "tools.list",
    "tools.call",
    "task.send",
]
SERVERS = ["github", "developer", "agent_mesh", "sql-mcp", "excel-mcp", "finance", "jira"]
TOOLS = [
    "create_issue",
    "merge_pr",
    "shell",
    "request_approval",
    "execute",
    "query",
    "list_issues",
    "send_task",
]

text = st.text(st.characters(codec="utf-8"), max_size=12)
identifier = st.one_of(st.sampled_from(MODELS), st.sampled_from(HOSTILE), text.filter(bool))
money = st.one_of(
    st.sampled_from([0, 2e-05, 5, 19.99, 20, 42.5, 45, 49, 50, 300, 10**6]),
    st.floats(min_value=0, max_value=1e6, allow_nan=False),
    st.integers(min_value=0, max_value=10**9),
)
max_tokens = st.one_of(st.none(), st.sampled_from([1, 4096, 4097, 16384, 16385]), st.integers(0, 2**62))
times = st.datetimes().map(lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ"))


@st.composite
def policy_inputs(draw: st.DrawFn) -> dict[str, Any]:
    roles = draw(st.lists(st.one_of(st.sampled_from(ROLES), st.sampled_from(HOSTILE), text), max_size=3))
    action = draw(st.sampled_from(ACTIONS))
    if action == "tools.call":
        resource: dict[str, Any] = {
            "server": draw(st.one_of(st.sampled_from(SERVERS), text)),
            "tool": draw(st.one_of(st.sampled_from(TOOLS), text)),
        }
    elif action in ("models.list", "tools.list", "task.send"):
        resource = {"model": None, "provider": None}
    else:  # a model action always names a model (the adapters refuse a request without one)
        resource = {"model": draw(identifier), "provider": draw(st.sampled_from([None, "openai", "echo"]))}
    usage = draw(
        st.dictionaries(st.sampled_from(["spend_today_usd", "spend_month_usd", "tokens_today"]), money)
    )
    return {
        "principal": {"sub": draw(text), "roles": roles, "tenant": draw(st.one_of(st.none(), text))},
        "action": action,
        "resource": resource,
        "request": {
            "stream": draw(st.booleans()),
            "max_tokens": draw(max_tokens),
            "input_tokens_estimate": 0,
        },
        "usage": usage,
        "time": draw(times),
        "task": draw(st.sampled_from(TASKS)),
    }


@pytest.fixture(scope="module")
def engines(sample: BundleContent, sample_data: dict[str, Any]) -> tuple[Embedded, ReferenceOpa]:
    return Embedded(sample.policies, sample_data), ReferenceOpa(sample.policies, sample_data)


def decide(engine: Embedded | ReferenceOpa, policy_input: dict[str, Any]) -> Any:
    try:
        return engine.evaluate(DECISION, policy_input)
    except EngineError as exc:
        return f"error: {exc}"


def random_input(rng: random.Random) -> dict[str, Any]:
    """The same shape as ``policy_inputs``, drawn with ``random`` (no shrinking, no overhead)."""

    def pick(values: list[Any]) -> Any:
        return rng.choice(values)

    def some_text() -> str:
        return "".join(chr(rng.choice([rng.randint(0, 0x7F), rng.randint(0x80, 0x2FFF)])) for _ in range(5))

    action = pick(ACTIONS)
    if action == "tools.call":
        resource: dict[str, Any] = {
            "server": pick([*SERVERS, some_text()]),
            "tool": pick([*TOOLS, some_text()]),
        }
    elif action in ("models.list", "tools.list", "task.send"):
        resource = {"model": None, "provider": None}
    else:
        resource = {
            "model": pick([*MODELS, *MODELS, *HOSTILE, some_text()]),
            "provider": pick([None, "openai"]),
        }
    amounts = [0, 2e-05, 5, 19.99, 20, 42.5, 45, 49, 50, 300, 2_000_000, rng.uniform(0, 100)]
    return {
        "principal": {
            "sub": "alice",
            "roles": rng.sample([*ROLES, *HOSTILE[:3], "intern"], rng.randint(0, 3)),
        },
        "action": action,
        "resource": resource,
        "request": {
            "stream": rng.random() < 0.5,
            "max_tokens": pick([None, 1, 4096, 4097, 16384, 16385, 10**6]),
        },
        "usage": {
            k: pick(amounts) for k in rng.sample(["spend_today_usd", "spend_month_usd", "tokens_today"], 2)
        },
        "time": f"2026-11-{rng.randint(1, 30):02d}T{rng.randint(0, 23):02d}:00:00Z",
        "task": pick(TASKS),
    }


def test_a_seeded_corpus_of_inputs(engines: tuple[Embedded, ReferenceOpa]) -> None:
    rng = random.Random(20261128)
    for _ in range(3000):
        policy_input = random_input(rng)
        embedded, opa = decide(engines[0], policy_input), decide(engines[1], policy_input)
        assert embedded is not UNDEFINED, json.dumps(policy_input)
        assert embedded == opa, f"input: {json.dumps(policy_input)}\nembedded: {embedded}\nopa: {opa}"


@settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(policy_input=policy_inputs())
def test_embedded_and_opa_decide_alike(
    engines: tuple[Embedded, ReferenceOpa], policy_input: dict[str, Any]
) -> None:
    embedded, opa = decide(engines[0], policy_input), decide(engines[1], policy_input)
    assert embedded is not UNDEFINED, json.dumps(policy_input)
    assert embedded == opa, f"input: {json.dumps(policy_input)}\nembedded: {embedded}\nopa: {opa}"
