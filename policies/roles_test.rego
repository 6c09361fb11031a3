package gateway_test

import rego.v1

test_unknown_role_is_denied if {
	d := data.gateway.decision with input as chat(["intern"], "echo")
	not d.allow
	codes(d) == ["unknown_role"]
	message(d, "unknown_role") == "no role profile for any of the roles [intern]"
}

test_no_roles_is_denied if {
	d := data.gateway.decision with input as {"action": "chat", "resource": {"model": "echo"}}
	not d.allow
	codes(d) == ["unknown_role"]
}

test_unknown_roles_are_ignored_beside_a_known_one if {
	d := data.gateway.decision with input as chat(["intern", "finance"], "gpt-4o-mini")
	d.allow
}
