package gateway_test

import rego.v1

test_guard_comes_from_the_profile if {
	d := data.gateway.decision with input as chat(["support"], "echo")
	d.guard.mode == "pseudonymize"
	d.guard.entities == ["CREDIT_CARD", "EMAIL_ADDRESS", "LOCATION", "PERSON", "PHONE_NUMBER"]
}

# support pseudonymizes, legal masks: mask is stricter. Entities add up.
test_the_strictest_mode_wins if {
	d := data.gateway.decision with input as chat(["support", "legal"], "echo")
	d.guard.mode == "mask"
	"CONTRACT_IDENTIFIER" in d.guard.entities
	"CREDIT_CARD" in d.guard.entities
}

test_block_beats_everything if {
	d := data.gateway.decision with input as chat(["auditor", "developer"], "echo")
	d.guard.mode == "block"
	count(d.guard.entities) == 0 # the auditor lists none: every entity
}

test_an_unknown_role_gets_block if {
	d := data.gateway.decision with input as chat(["intern"], "echo")
	d.guard.mode == "block"
	count(d.guard.entities) == 0
}
