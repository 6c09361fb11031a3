package gateway_test

import rego.v1

import data.gateway

input_guard_comes_from_the_profile := chat(["support"], "echo")

test_guard_comes_from_the_profile if {
	gateway.decision.guard.mode == "pseudonymize"
	text(gateway.decision.guard.entities) == "CREDIT_CARD,EMAIL_ADDRESS,LOCATION,PERSON,PHONE_NUMBER"
}

# support pseudonymizes, legal masks: mask is stricter. Entities add up.
input_the_strictest_mode_wins := chat(["support", "legal"], "echo")

test_the_strictest_mode_wins if {
	gateway.decision.guard.mode == "mask"
	"CONTRACT_IDENTIFIER" in gateway.decision.guard.entities
	"CREDIT_CARD" in gateway.decision.guard.entities
}

input_block_beats_everything := chat(["auditor", "developer"], "echo")

test_block_beats_everything if {
	gateway.decision.guard.mode == "block"
	count(gateway.decision.guard.entities) == 0 # the auditor lists none: every entity
}

input_an_unknown_role_gets_block := chat(["intern"], "echo")

test_an_unknown_role_gets_block if {
	gateway.decision.guard.mode == "block"
	count(gateway.decision.guard.entities) == 0
}
