# Shared helpers for the policy tests (no tests here).
#
# Tests state their input the standard way, `gateway.decision with input as chat(...)`, so
# `opa test policies/` runs them as `skein policy test` does. They run against the real
# sample organisation in bundles/ (`opa test policies/ bundles-data/`, docs/policy-guide.md);
# tests that need invented profiles live in tests/policy/ (Python).
package gateway_test

import rego.v1

chat(roles, model) := {"principal": {"sub": "alice", "roles": roles}, "action": "chat", "resource": {"model": model}}

chat_with(roles, model, extra) := object.union(chat(roles, model), extra)

tool_call(roles, server, tool) := {
	"principal": {"sub": "alice", "roles": roles},
	"action": "tools.call",
	"resource": {"server": server, "tool": tool},
}

# The reason codes of a decision, in its order.
codes(decision) := [r.code | some r in decision.reasons]

has_reason(decision, code) if code in codes(decision)

message(decision, code) := msg if {
	some r in decision.reasons
	r.code == code
	msg := r.message
}
