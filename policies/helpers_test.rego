# Shared helpers for the policy tests (no tests here).
#
# How tests get their input: for `test_<name>`, `skein policy test` first evaluates
# `input_<name>` (if the package defines it) and runs the test with that as input. rego-cpp
# 1.5 cannot be trusted with `with input as ...` (it aborts, and compiles each use for about
# a second), so tests never use `with`. They run against the real sample organisation in
# bundles/; tests that need fixture profiles live in tests/policy/ (Python).
package gateway_test

import rego.v1

chat(roles, model) := {"principal": {"sub": "alice", "roles": roles}, "action": "chat", "resource": {"model": model}}

chat_with(roles, model, extra) := object.union(chat(roles, model), extra)

tool_call(roles, server, tool) := {
	"principal": {"sub": "alice", "roles": roles},
	"action": "tools.call",
	"resource": {"server": server, "tool": tool},
}

# rego-cpp cannot index or compare the arrays sort() returns (d.reasons[0], d.models == [...]),
# so tests look reasons up by code and compare lists as text.
has_reason(decision, code) if {
	some r in decision.reasons
	r.code == code
}

message(decision, code) := msg if {
	some r in decision.reasons
	r.code == code
	msg := r.message
}

only_reason(decision) := code if {
	count(decision.reasons) == 1
	some r in decision.reasons
	code := r.code
}

text(list) := concat(",", list)
