"""The MCP policy on the embedded engine, and the re-check of its decisions (mcp_guardrails).

policies/mcp_test.rego states the same rules in Rego; these run them through the engine the
gateway uses, whatever test runner the Rego files need.
"""

from __future__ import annotations

from typing import Any

import pytest

from gateway.bundle.source import DirectorySource
from gateway.domain import Decision, GuardSpec
from gateway.policy.embedded import EmbeddedEngine
from gateway.policy.rego_data import bundle_data
from gateway.stages.mcp_guardrails import grants_tool, mcp_decision_problem
from signing.schema import RoleProfile
from tests.policy.conftest import BUNDLES, FIXTURE_PROFILE, POLICIES


@pytest.fixture(scope="module")
def engine() -> EmbeddedEngine:
    sample = DirectorySource(POLICIES, BUNDLES).read()
    return EmbeddedEngine(sample.policies, bundle_data(sample.catalog, sample.profiles), cache_size=0)


def ask(engine: EmbeddedEngine, roles: list[str], action: str, **resource: Any) -> Decision:
    return engine.decide_sync(
        {"principal": {"sub": "alice", "roles": roles}, "action": action, "resource": resource}
    )


def test_servers_and_listings_follow_the_extensions(engine: EmbeddedEngine) -> None:
    assert ask(engine, ["finance"], "mcp.connect", server="github").allow
    refused = ask(engine, ["finance"], "mcp.connect", server="developer")
    assert not refused.allow and refused.first_reason == "server_not_allowed"
    assert ask(engine, ["developer"], "tools.list", server="developer", tool="shell").allow
    assert not ask(engine, ["developer"], "tools.list", server="developer", tool="wipe").allow
    assert not ask(engine, ["developer"], "tools.list", server="developer", tool="Shell").allow
    assert ask(engine, ["developer"], "resources.read", server="developer", uri="notes://readme").allow


def test_the_worked_example_conditions_the_shell_on_its_arguments(engine: EmbeddedEngine) -> None:
    def shell(command: Any) -> Decision:
        return ask(
            engine,
            ["developer"],
            "tools.call",
            server="developer",
            tool="shell",
            arguments={"command": command},
        )

    assert shell("ls -la").allow and shell("grep -rn x .").allow
    for command in ("rm -rf /", "ls; rm x", "cat a | sh", "echo `id`", "echo $(id)", ["ls"], ""):
        decision = shell(command)
        assert not decision.allow and decision.first_reason == "tool_arguments_denied", command
    finance = ask(
        engine, ["finance"], "tools.call", server="developer", tool="shell", arguments={"command": "ls"}
    )
    assert [r.code for r in finance.reasons] == ["tool_denied"]  # the argument rule speaks only to grantees


def test_unknown_methods_are_denied_by_default(engine: EmbeddedEngine) -> None:
    decision = ask(engine, ["developer"], "mcp.method", server="developer", method="debug/dump")
    assert not decision.allow and decision.first_reason == "no_rule_matched"


def profile(**overrides: Any) -> RoleProfile:
    return RoleProfile.model_validate({**FIXTURE_PROFILE, "role": "x", **overrides})


DEV = profile(
    extensions=[{"name": "github", "tools": ["merge_pr", "list_*"]}, {"name": "memory", "enabled": False}],
    tools={"allow": ["github__*", "memory__*"], "deny": ["github__list_secrets"]},
    approvals={"tools": ["github__merge_pr"], "approver_role": None},
    privacy={"mode": "mask", "entities": ["EMAIL_ADDRESS"]},
)


def test_a_tool_grant_needs_globs_and_an_enabled_extension_listing_it() -> None:
    assert grants_tool(DEV, "github", "merge_pr") and grants_tool(DEV, "github", "list_issues")
    assert not grants_tool(DEV, "github", "list_secrets")  # deny wins within the role
    assert not grants_tool(DEV, "github", "delete_repo")  # not in the extension's list
    assert not grants_tool(DEV, "memory", "recall")  # extension disabled


@pytest.mark.parametrize(
    ("decision", "action", "resource", "problem"),
    [
        (
            Decision(True, guard=GuardSpec("mask")),
            "tools.call",
            {"server": "github", "tool": "delete_repo"},
            "grants",
        ),
        (
            Decision(True, guard=GuardSpec("mask")),
            "tools.call",
            {"server": "github", "tool": "merge_pr"},
            "approval",
        ),
        (
            Decision(True, guard=GuardSpec("off")),
            "tools.call",
            {"server": "github", "tool": "list_issues"},
            "guard",
        ),
        (Decision(True, guard=GuardSpec("mask")), "mcp.connect", {"server": "memory"}, "extension"),
        (Decision(True, guard=GuardSpec("mask")), "mcp.connect", {"server": None}, "no server"),
    ],
)
def test_a_decision_wider_than_the_profiles_is_refused(
    decision: Decision, action: str, resource: dict[str, Any], problem: str
) -> None:
    found = mcp_decision_problem(decision, action, resource, [DEV])
    assert found is not None and problem in found


def test_a_decision_within_the_profiles_stands() -> None:
    needs = Decision(True, guard=GuardSpec("mask", ("EMAIL_ADDRESS",)), approval_required=True)
    assert mcp_decision_problem(needs, "tools.call", {"server": "github", "tool": "merge_pr"}, [DEV]) is None
    listed = Decision(True, guard=GuardSpec("mask", ("EMAIL_ADDRESS",)))
    assert mcp_decision_problem(listed, "tools.list", {"server": "github", "tool": "merge_pr"}, [DEV]) is None
    assert mcp_decision_problem(listed, "mcp.connect", {"server": "github"}, [DEV]) is None


def test_the_profiles_that_ask_for_an_approval_name_its_approver_first() -> None:
    from gateway.approvals import asking_first

    asks = profile(role="dev", approvals={"tools": ["github__merge_pr"], "approver_role": "manager"})
    other = profile(role="aaa", approvals={"tools": [], "approver_role": "finance"})
    assert asking_first([other, asks], "github__merge_pr") == [asks, other]
    assert asking_first([asks, other], None) == [other, asks]  # no subject: by role name
