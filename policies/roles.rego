# Who is calling: the caller's roles that have a profile in the bundle, and shared helpers.
#
# rego-cpp 1.x pitfalls this package avoids (docs/policy-guide.md, "rego-cpp pitfalls"):
# no function uses an argument as a key into data (data.profiles[arg] is slow and, inside a
# comprehension, wrong), no comprehension refers to a local variable of the body around it,
# messages are built with concat, not sprintf, and numbers are compared with <=, not max().
# Tests replace input fields (`with input.action as`), never the whole input (rego-cpp aborts).
package gateway

import rego.v1

default caller_roles := []

caller_roles := input.principal.roles

# Roles without a profile are ignored, so a stray IdP group cannot widen or narrow access.
known_roles contains role if {
	some role in caller_roles
	data.profiles[role].role # .role, not the whole profile: far cheaper in rego-cpp
}

has_known_role if count(known_roles) > 0

deny contains reason("unknown_role", msg) if {
	not has_known_role
	msg := concat("", ["no role profile for any of the roles [", role_list(caller_roles), "]"])
}

# One shape for every reason in the decision.
reason(code, message) := {"code": code, "message": message}

# Roles for messages: "finance, hr".
role_list(roles) := concat(", ", sort(roles))

# A number (or any value) as message text.
num(x) := sprintf("%v", [x])

# True when a glob in patterns matches name. Null delimiters: "*" also crosses dots
# (llama3.*), like fnmatch in signing/schema.py.
matches_any(patterns, name) if {
	some pattern in patterns
	glob.match(pattern, null, name)
}

# null (no limit) beats any number; otherwise the largest. Used for caps and budgets,
# because with several roles the most generous grant wins.
most_generous(limits) := null if null in limits
else := largest(limits)

# Not max(): rego-cpp 1.5 compares numbers as text in max (max({16384, 5}) == 5).
# The one-element case (a caller with one role) skips the quadratic check.
largest(xs) := x if {
	count(xs) == 1
	some x in xs
} else := x if {
	some x in xs
	every y in xs {
		y <= x
	}
}
