package gateway_test

import rego.v1

test_developer_may_call_github_tools if {
	d := data.gateway.decision with input as tool_call(["developer"], "github", "create_issue")
	d.allow
	not d.approval_required
}

test_merge_needs_an_approval if {
	d := data.gateway.decision with input as tool_call(["developer"], "github", "merge_pr")
	d.allow
	d.approval_required
}

test_finance_may_not_run_a_shell if {
	d := data.gateway.decision with input as tool_call(["finance"], "developer", "shell")
	not d.allow
	codes(d) == ["tool_denied"]
	message(d, "tool_denied") == "tool developer__shell is denied for roles finance"
}

# analyst may use agent_mesh__* by glob, but its extension does not list request_approval.
test_a_tool_outside_the_extension_list if {
	d := data.gateway.decision with input as tool_call(["analyst"], "agent_mesh", "request_approval")
	not d.allow
	codes(d) == ["tool_not_allowed"]
}

test_deny_wins_within_a_role if {
	d := data.gateway.decision with input as tool_call(["analyst"], "sql-mcp", "execute")
	codes(d) == ["tool_denied"]
}
