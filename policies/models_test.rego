package gateway_test

import rego.v1

import data.gateway

input_finance_may_use_gpt_4o_mini := chat(["finance"], "gpt-4o-mini")

test_finance_may_use_gpt_4o_mini if {
	gateway.decision.allow
	gateway.decision.model == "gpt-4o-mini"
	count(gateway.decision.reasons) == 0
}

input_finance_may_not_use_gpt_4o := chat(["finance"], "gpt-4o")

test_finance_may_not_use_gpt_4o if {
	not gateway.decision.allow
	only_reason(gateway.decision) == "model_not_allowed"
	message(gateway.decision, "model_not_allowed") == "model gpt-4o is not allowed for roles finance"
}

input_a_glob_allows_the_claude_family := chat(["finance"], "claude-3-5-haiku")

test_a_glob_allows_the_claude_family if {
	gateway.decision.allow
}

input_developer_gets_o3_mini := chat(["developer"], "o3-mini")

test_developer_gets_o3_mini if {
	gateway.decision.allow
}

input_unknown_model_is_denied := chat(["developer"], "gpt-9")

test_unknown_model_is_denied if {
	not gateway.decision.allow
	only_reason(gateway.decision) == "unknown_model"
	message(gateway.decision, "unknown_model") == "model gpt-9 is not in the model catalog"
}

input_max_tokens_above_the_cap_is_denied := chat_with(["finance"], "gpt-4o-mini", {"request": {"max_tokens": 4097}})

test_max_tokens_above_the_cap_is_denied if {
	not gateway.decision.allow
	only_reason(gateway.decision) == "max_tokens_exceeded"
	message(gateway.decision, "max_tokens_exceeded") == "max_tokens 4097 is above the cap of 4096 for model gpt-4o-mini"
}

input_max_tokens_at_the_cap_is_allowed := chat_with(["finance"], "gpt-4o-mini", {"request": {"max_tokens": 4096}})

test_max_tokens_at_the_cap_is_allowed if {
	gateway.decision.allow
}

input_absent_max_tokens_is_allowed := chat_with(["finance"], "gpt-4o-mini", {"request": {"max_tokens": null}})

test_absent_max_tokens_is_allowed if {
	gateway.decision.allow
}

# finance caps at 4096, developer at 16384; both grant gpt-4o-mini.
input_the_most_generous_cap_wins := chat_with(["finance", "developer"], "gpt-4o-mini", {"request": {"max_tokens": 10000}})

test_the_most_generous_cap_wins if {
	gateway.decision.allow
}

input_models_list_shows_only_usable_models := {"principal": {"roles": ["finance"]}, "action": "models.list"}

test_models_list_shows_only_usable_models if {
	gateway.decision.allow
	text(gateway.decision.models) == "claude-3-5-haiku,claude-3-5-sonnet,echo,gpt-4o-mini,text-embedding-3-small"
}

input_models_list_for_legal_is_local_only := {"principal": {"roles": ["legal"]}, "action": "models.list"}

test_models_list_for_legal_is_local_only if {
	text(gateway.decision.models) == "echo,llama3.2"
}

input_models_is_empty_for_other_actions := chat(["finance"], "echo")

test_models_is_empty_for_other_actions if {
	count(gateway.decision.models) == 0
}
