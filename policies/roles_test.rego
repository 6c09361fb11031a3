package gateway_test

import rego.v1

import data.gateway

input_unknown_role_is_denied := chat(["intern"], "echo")

test_unknown_role_is_denied if {
	not gateway.decision.allow
	only_reason(gateway.decision) == "unknown_role"
	message(gateway.decision, "unknown_role") == "no role profile for any of the roles [intern]"
}

input_no_roles_is_denied := {"action": "chat", "resource": {"model": "echo"}}

test_no_roles_is_denied if {
	not gateway.decision.allow
	only_reason(gateway.decision) == "unknown_role"
}

input_unknown_roles_are_ignored_beside_a_known_one := chat(["intern", "finance"], "gpt-4o-mini")

test_unknown_roles_are_ignored_beside_a_known_one if {
	gateway.decision.allow
}
