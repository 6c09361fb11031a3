package gateway_test

import rego.v1

import data.gateway

input_daily_budget_used_up_is_denied := chat_with(["finance"], "gpt-4o-mini", {"usage": {"spend_today_usd": 20}})

test_daily_budget_used_up_is_denied if {
	not gateway.decision.allow
	only_reason(gateway.decision) == "budget_exceeded"
	message(gateway.decision, "budget_exceeded") == "daily USD budget of 20 is used up (20 used); model gpt-4o-mini"
}

input_monthly_budget_used_up_is_denied := chat_with(["finance"], "gpt-4o-mini", {"usage": {"spend_month_usd": 300}})

test_monthly_budget_used_up_is_denied if {
	only_reason(gateway.decision) == "budget_exceeded"
	contains(message(gateway.decision, "budget_exceeded"), "monthly USD")
}

input_token_budget_binds_free_models := chat_with(["legal"], "llama3.2", {"usage": {"tokens_today": 2000000}})

test_token_budget_binds_free_models if {
	only_reason(gateway.decision) == "budget_exceeded"
}

# The auditor has a zero USD budget, and echo costs nothing.
input_usd_budget_does_not_bind_free_models := chat_with(["auditor"], "echo", {"usage": {"spend_today_usd": 5}})

test_usd_budget_does_not_bind_free_models if {
	gateway.decision.allow
}

input_under_budget_is_allowed := chat_with(["finance"], "gpt-4o-mini", {"usage": {"spend_today_usd": 19.99}})

test_under_budget_is_allowed if {
	gateway.decision.allow
}

input_downshift_at_the_threshold := chat_with(["developer"], "gpt-4o", {"usage": {"spend_today_usd": 42.5}})

test_downshift_at_the_threshold if {
	gateway.decision.allow
	gateway.decision.model == "gpt-4o-mini"
	only_reason(gateway.decision) == "model_downshifted"
	message(gateway.decision, "model_downshifted") == "daily budget 85% used; gpt-4o -> gpt-4o-mini"
}

input_no_downshift_below_the_threshold := chat_with(["developer"], "gpt-4o", {"usage": {"spend_today_usd": 42}})

test_no_downshift_below_the_threshold if {
	gateway.decision.allow
	gateway.decision.model == "gpt-4o"
	count(gateway.decision.reasons) == 0
}

input_downshift_only_for_its_model := chat_with(["developer"], "o3-mini", {"usage": {"spend_today_usd": 49}})

test_downshift_only_for_its_model if {
	gateway.decision.model == "o3-mini"
}

input_downshift_uses_the_profile_threshold := chat_with(["developer"], "claude-3-5-sonnet", {"usage": {"spend_today_usd": 45}})

test_downshift_uses_the_profile_threshold if {
	gateway.decision.model == "claude-3-5-haiku"
}
