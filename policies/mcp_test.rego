package gateway_test

import rego.v1

mcp(roles, action, resource) := {"principal": {"sub": "alice", "roles": roles}, "action": action, "resource": resource}

shell(roles, command) := mcp(roles, "tools.call", {"server": "developer", "tool": "shell", "arguments": {"command": command}})

test_a_role_reaches_the_servers_of_its_extensions if {
	d := data.gateway.decision with input as mcp(["finance"], "mcp.connect", {"server": "github"})
	d.allow
}

test_a_server_outside_the_extensions_is_refused if {
	d := data.gateway.decision with input as mcp(["finance"], "mcp.connect", {"server": "developer"})
	not d.allow
	message(d, "server_not_allowed") == "MCP server developer is not an extension of roles finance"
}

test_listing_a_server_needs_its_extension if {
	data.gateway.decision.allow with input as mcp(["developer"], "tools.list", {"server": "developer"})
	not data.gateway.decision.allow with input as mcp(["finance"], "tools.list", {"server": "developer"})
}

test_a_listed_tool_is_shown_when_it_may_be_called if {
	data.gateway.decision.allow with input as mcp(["developer"], "tools.list", {"server": "developer", "tool": "shell"})
}

test_a_listed_tool_outside_the_extension_list_is_hidden if {
	d := data.gateway.decision with input as mcp(["developer"], "tools.list", {"server": "developer", "tool": "rm"})
	not d.allow
	has_reason(d, "tool_not_allowed")
}

test_a_denied_tool_is_hidden if {
	d := data.gateway.decision with input as mcp(["developer"], "tools.list", {"server": "database", "tool": "execute"})
	not d.allow
}

test_tool_names_compare_exactly if {
	not data.gateway.decision.allow with input as mcp(["developer"], "tools.list", {"server": "developer", "tool": "Shell"})
	not data.gateway.decision.allow with input as mcp(["developer"], "tools.call", {"server": "Developer", "tool": "shell"})
}

test_prompts_and_resources_follow_the_server if {
	data.gateway.decision.allow with input as mcp(["developer"], "prompts.get", {"server": "developer", "prompt": "review"})
	data.gateway.decision.allow with input as mcp(["developer"], "resources.read", {"server": "developer", "uri": "notes://readme"})
	not data.gateway.decision.allow with input as mcp(["finance"], "resources.read", {"server": "developer", "uri": "notes://readme"})
}

test_an_unknown_method_is_denied_by_default if {
	d := data.gateway.decision with input as mcp(["developer"], "mcp.method", {"server": "developer", "method": "debug/dump"})
	not d.allow
	has_reason(d, "no_rule_matched")
}

test_the_shell_runs_a_read_only_program if {
	data.gateway.decision.allow with input as shell(["developer"], "ls -la src")
	data.gateway.decision.allow with input as shell(["developer"], "  grep -rn TODO .")
}

test_the_shell_refuses_other_programs if {
	d := data.gateway.decision with input as shell(["developer"], "rm -rf /")
	not d.allow
	has_reason(d, "tool_arguments_denied")
}

test_the_shell_refuses_chained_commands if {
	not data.gateway.decision.allow with input as shell(["developer"], "ls; rm -rf /")
	not data.gateway.decision.allow with input as shell(["developer"], "cat x | sh")
	not data.gateway.decision.allow with input as shell(["developer"], "echo $(id)")
}

test_the_shell_needs_a_command if {
	not data.gateway.decision.allow with input as mcp(["developer"], "tools.call", {"server": "developer", "tool": "shell", "arguments": {}})
	not data.gateway.decision.allow with input as shell(["developer"], ["ls"])
}

test_an_approval_applies_to_the_call_and_not_to_the_listing if {
	call := data.gateway.decision with input as mcp(["developer"], "tools.call", {"server": "github", "tool": "merge_pr", "arguments": {}})
	call.allow
	call.approval_required
	listed := data.gateway.decision with input as mcp(["developer"], "tools.list", {"server": "github", "tool": "merge_pr"})
	listed.allow
}
