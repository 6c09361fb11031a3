package gateway_test

import rego.v1

import data.gateway

input_developer_may_call_github_tools := tool_call(["developer"], "github", "create_issue")

test_developer_may_call_github_tools if {
	gateway.decision.allow
	not gateway.decision.approval_required
}

input_merge_needs_an_approval := tool_call(["developer"], "github", "merge_pr")

test_merge_needs_an_approval if {
	gateway.decision.allow
	gateway.decision.approval_required
}

input_finance_may_not_run_a_shell := tool_call(["finance"], "developer", "shell")

test_finance_may_not_run_a_shell if {
	not gateway.decision.allow
	only_reason(gateway.decision) == "tool_denied"
	message(gateway.decision, "tool_denied") == "tool developer__shell is denied for roles finance"
}

# analyst may use agent_mesh__* by glob, but its extension does not list request_approval.
input_a_tool_outside_the_extension_list := tool_call(["analyst"], "agent_mesh", "request_approval")

test_a_tool_outside_the_extension_list if {
	not gateway.decision.allow
	only_reason(gateway.decision) == "tool_not_allowed"
}

input_deny_wins_within_a_role := tool_call(["analyst"], "sql-mcp", "execute")

test_deny_wins_within_a_role if {
	only_reason(gateway.decision) == "tool_denied"
}
