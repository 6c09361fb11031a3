package gateway_test

import rego.v1

test_finance_may_use_gpt_4o_mini if {
	d := data.gateway.decision with input as chat(["finance"], "gpt-4o-mini")
	d.allow
	d.model == "gpt-4o-mini"
	count(d.reasons) == 0
}

test_finance_may_not_use_gpt_4o if {
	d := data.gateway.decision with input as chat(["finance"], "gpt-4o")
	not d.allow
	codes(d) == ["model_not_allowed"]
	message(d, "model_not_allowed") == "model gpt-4o is not allowed for roles finance"
}

test_a_glob_allows_the_claude_family if {
	d := data.gateway.decision with input as chat(["finance"], "claude-3-5-haiku")
	d.allow
}

test_developer_gets_o3_mini if {
	d := data.gateway.decision with input as chat(["developer"], "o3-mini")
	d.allow
}

test_unknown_model_is_denied if {
	d := data.gateway.decision with input as chat(["developer"], "gpt-9")
	not d.allow
	codes(d) == ["unknown_model"]
	message(d, "unknown_model") == "model gpt-9 is not in the model catalog"
}

test_max_tokens_above_the_cap_is_denied if {
	d := data.gateway.decision with input as chat_with(["finance"], "gpt-4o-mini", {"request": {"max_tokens": 4097}})
	not d.allow
	codes(d) == ["max_tokens_exceeded"]
	message(d, "max_tokens_exceeded") == "max_tokens 4097 is above the cap of 4096 for model gpt-4o-mini"
}

test_max_tokens_at_the_cap_is_allowed if {
	d := data.gateway.decision with input as chat_with(["finance"], "gpt-4o-mini", {"request": {"max_tokens": 4096}})
	d.allow
}

test_absent_max_tokens_is_allowed if {
	d := data.gateway.decision with input as chat_with(["finance"], "gpt-4o-mini", {"request": {"max_tokens": null}})
	d.allow
}

# finance caps at 4096, developer at 16384; both grant gpt-4o-mini.
test_the_most_generous_cap_wins if {
	d := data.gateway.decision with input as chat_with(["finance", "developer"], "gpt-4o-mini", {"request": {"max_tokens": 10000}})
	d.allow
}

test_models_list_shows_only_usable_models if {
	d := data.gateway.decision with input as {"principal": {"roles": ["finance"]}, "action": "models.list"}
	d.allow
	d.models == ["claude-3-5-haiku", "claude-3-5-sonnet", "echo", "gpt-4o-mini", "text-embedding-3-small"]
}

test_models_list_for_legal_is_local_only if {
	d := data.gateway.decision with input as {"principal": {"roles": ["legal"]}, "action": "models.list"}
	d.models == ["echo", "llama3.2"]
}

test_models_is_empty_for_other_actions if {
	d := data.gateway.decision with input as chat(["finance"], "echo")
	count(d.models) == 0
}
