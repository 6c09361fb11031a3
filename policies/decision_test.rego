package gateway_test

import rego.v1

test_the_decision_has_exactly_the_contract_keys if {
	d := data.gateway.decision with input as chat(["finance"], "echo")
	object.keys(d) == {"allow", "reasons", "model", "guard", "approval_required", "models"}
	object.keys(d.guard) == {"mode", "entities"}
}

test_default_deny_for_an_unknown_action if {
	d := data.gateway.decision with input as {"principal": {"roles": ["finance"]}, "action": "rocket.launch"}
	not d.allow
	codes(d) == ["no_rule_matched"]
	message(d, "no_rule_matched") == "no rule allows action rocket.launch for roles finance"
}

test_default_deny_when_the_model_is_missing if {
	d := data.gateway.decision with input as {"principal": {"roles": ["finance"]}, "action": "chat"}
	not d.allow
	codes(d) == ["no_rule_matched"]
}

test_an_allow_carries_no_reasons if {
	d := data.gateway.decision with input as chat(["finance"], "claude-3-5-sonnet")
	d.allow
	count(d.reasons) == 0
	d.model == "claude-3-5-sonnet"
	d.approval_required == false
}

test_every_deny_reason_has_a_message if {
	d := data.gateway.decision with input as chat_with(["finance", "legal"], "gpt-4o", {"request": {"max_tokens": 100000}})
	count(d.reasons) > 0
	every r in d.reasons {
		count(r.message) > 0
	}
}

test_tools_list_needs_a_known_role if {
	d := data.gateway.decision with input as {"principal": {"roles": ["finance"]}, "action": "tools.list"}
	d.allow
}
