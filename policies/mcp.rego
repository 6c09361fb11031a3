# Agent endpoints (MCP): which servers a caller reaches, what a listing shows, and rules on
# a tool call's arguments. The tool grants themselves (globs, extensions, approvals) are in
# tools.rego; docs/mcp.md lists the actions and the input.
package gateway

import rego.v1

# Actions on a server as a whole (the session, listings, prompts, resources). tools.list is
# permitted in decision.rego; its server check is here like the others'.
mcp_server_actions := {
	"mcp.connect", "tools.list", "prompts.list", "prompts.get",
	"resources.list", "resources.read", "completion.complete",
}

# A role reaches a server through an enabled extension of that name.
server_roles contains role if {
	some role in known_roles
	some ext in data.profiles[role].extensions
	ext.name == input.resource.server
	ext.enabled
}

permitted if {
	input.action in mcp_server_actions
	input.action != "tools.list"
	count(server_roles) > 0
}

# Whole-server actions only: a named tool is decided by tools.rego, which says why.
deny contains reason("server_not_allowed", msg) if {
	input.action in mcp_server_actions
	not input.resource.tool
	has_known_role
	count(server_roles) == 0
	msg := concat("", ["MCP server ", input.resource.server, " is not an extension of roles ", role_list(known_roles)])
}

# A listed tool is shown exactly when the caller may call it (whatever its arguments).
deny contains reason("tool_not_allowed", msg) if {
	input.action == "tools.list"
	input.resource.tool
	count(tool_roles) == 0
	msg := concat("", ["tool ", tool_name, " is not allowed for roles ", role_list(known_roles)])
}

# Worked example of a rule on arguments (docs/mcp.md): the developer extension's shell runs
# one read-only program at a time. Anything else, or a command that could chain another, is
# refused with tool_arguments_denied.
shell_programs := {"ls", "cat", "pwd", "echo", "grep", "head", "tail", "wc"}

shell_metacharacters := {";", "&", "|", "<", ">", "$", "`", "\\", "\n"}

deny contains reason("tool_arguments_denied", msg) if {
	input.action == "tools.call"
	tool_name == "developer__shell"
	count(tool_roles) > 0 # a caller without the tool is told so by tools.rego
	not shell_command_allowed
	msg := "developer__shell runs one read-only program (ls, cat, pwd, echo, grep, head, tail, wc) per call"
}

shell_command_allowed if {
	command := input.resource.arguments.command
	is_string(command)
	not chains_commands(command)
	words := split(trim_space(command), " ")
	words[0] in shell_programs
}

chains_commands(command) if {
	some character in shell_metacharacters
	contains(command, character)
}
