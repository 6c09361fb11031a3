# Agent tools (MCP): `server__tool` globs per role, extensions, and approvals.
package gateway

import rego.v1

tool_name := concat("__", [input.resource.server, input.resource.tool])

# An extension's empty tool list means "every tool the globs allow".
lists_tool(tools, _) if count(tools) == 0

lists_tool(tools, tool) if tool in tools

# Within one role deny wins over allow, and the role's extension for the server must be
# enabled and list the tool; across roles the grants add up.
tool_roles contains role if {
	input.action in {"tools.call", "tools.list"} # tools.list: one listed tool (mcp.rego)
	some role in known_roles
	profile := data.profiles[role]
	matches_any(profile.tools.allow, tool_name)
	not matches_any(profile.tools.deny, tool_name)
	some ext in profile.extensions
	ext.name == input.resource.server
	ext.enabled
	lists_tool(ext.tools, input.resource.tool)
}

denying_roles := {role | some role in known_roles; matches_any(data.profiles[role].tools.deny, tool_name)}

deny contains reason("tool_denied", msg) if {
	input.action == "tools.call"
	count(tool_roles) == 0
	count(denying_roles) > 0
	msg := sprintf("tool %s is denied for roles %s", [tool_name, role_list(denying_roles)])
}

deny contains reason("tool_not_allowed", msg) if {
	input.action == "tools.call"
	has_known_role
	count(tool_roles) == 0
	count(denying_roles) == 0
	msg := sprintf("tool %s is not allowed for roles %s", [tool_name, role_list(known_roles)])
}

# Any granting role that asks for a human approval makes the call wait for one.
default approval_required := false

approval_required if {
	some role in tool_roles
	matches_any(data.profiles[role].approvals.tools, tool_name)
}
