package gateway_test

import rego.v1

import data.gateway

input_the_decision_has_exactly_the_contract_keys := chat(["finance"], "echo")

test_the_decision_has_exactly_the_contract_keys if {
	object.keys(gateway.decision) == {"allow", "reasons", "model", "guard", "approval_required", "models"}
	object.keys(gateway.decision.guard) == {"mode", "entities"}
}

input_default_deny_for_an_unknown_action := {"principal": {"roles": ["finance"]}, "action": "rocket.launch"}

test_default_deny_for_an_unknown_action if {
	not gateway.decision.allow
	only_reason(gateway.decision) == "no_rule_matched"
	message(gateway.decision, "no_rule_matched") == "no rule allows action rocket.launch for roles finance"
}

input_default_deny_when_the_model_is_missing := {"principal": {"roles": ["finance"]}, "action": "chat"}

test_default_deny_when_the_model_is_missing if {
	not gateway.decision.allow
	only_reason(gateway.decision) == "no_rule_matched"
}

input_an_allow_carries_no_reasons := chat(["finance"], "claude-3-5-sonnet")

test_an_allow_carries_no_reasons if {
	gateway.decision.allow
	count(gateway.decision.reasons) == 0
	gateway.decision.model == "claude-3-5-sonnet"
	gateway.decision.approval_required == false
}

input_every_deny_reason_has_a_message := chat_with(["finance", "legal"], "gpt-4o", {"request": {"max_tokens": 100000}})

test_every_deny_reason_has_a_message if {
	count(gateway.decision.reasons) > 0
	every r in gateway.decision.reasons {
		count(r.message) > 0
	}
}

input_tools_list_needs_a_known_role := {"principal": {"roles": ["finance"]}, "action": "tools.list"}

test_tools_list_needs_a_known_role if {
	gateway.decision.allow
}
