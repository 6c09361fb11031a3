# Who is calling: the caller's roles that have a profile in the bundle, and shared helpers.
package gateway

import rego.v1

default caller_roles := []

caller_roles := input.principal.roles

# Roles without a profile are ignored, so a stray IdP group cannot widen or narrow access.
known_roles contains role if {
	some role in caller_roles
	data.profiles[role]
}

has_known_role if count(known_roles) > 0

deny contains reason("unknown_role", msg) if {
	not has_known_role
	msg := sprintf("no role profile for any of the roles [%s]", [role_list(caller_roles)])
}

# One shape for every reason in the decision.
reason(code, message) := {"code": code, "message": message}

# Roles for messages: "finance, hr".
role_list(roles) := concat(", ", sort(roles))

# True when a glob in patterns matches name. Null delimiters: "*" also crosses dots
# (llama3.*), like fnmatch in signing/schema.py.
matches_any(patterns, name) if {
	some pattern in patterns
	glob.match(pattern, null, name)
}

# With several roles the most generous grant wins: null (no limit) beats any number,
# otherwise the largest. Used for caps and budgets.
most_generous(limits) := null if null in limits
else := max(limits)
