package gateway_test

import rego.v1

test_daily_budget_used_up_is_denied if {
	d := data.gateway.decision with input as chat_with(["finance"], "gpt-4o-mini", {"usage": {"spend_today_usd": 20}})
	not d.allow
	codes(d) == ["budget_exceeded"]
	message(d, "budget_exceeded") == "daily USD budget of 20 is used up (20 used); model gpt-4o-mini"
}

test_monthly_budget_used_up_is_denied if {
	d := data.gateway.decision with input as chat_with(["finance"], "gpt-4o-mini", {"usage": {"spend_month_usd": 300}})
	codes(d) == ["budget_exceeded"]
	contains(message(d, "budget_exceeded"), "monthly USD")
}

test_token_budget_binds_free_models if {
	d := data.gateway.decision with input as chat_with(["legal"], "llama3.2", {"usage": {"tokens_today": 2000000}})
	codes(d) == ["budget_exceeded"]
}

# The auditor has a zero USD budget, and echo costs nothing.
test_usd_budget_does_not_bind_free_models if {
	d := data.gateway.decision with input as chat_with(["auditor"], "echo", {"usage": {"spend_today_usd": 5}})
	d.allow
}

test_under_budget_is_allowed if {
	d := data.gateway.decision with input as chat_with(["finance"], "gpt-4o-mini", {"usage": {"spend_today_usd": 19.99}})
	d.allow
}

test_downshift_at_the_threshold if {
	d := data.gateway.decision with input as chat_with(["developer"], "gpt-4o", {"usage": {"spend_today_usd": 42.5}})
	d.allow
	d.model == "gpt-4o-mini"
	codes(d) == ["model_downshifted"]
	message(d, "model_downshifted") == "daily budget 85% used; gpt-4o -> gpt-4o-mini"
}

test_no_downshift_below_the_threshold if {
	d := data.gateway.decision with input as chat_with(["developer"], "gpt-4o", {"usage": {"spend_today_usd": 42}})
	d.allow
	d.model == "gpt-4o"
	count(d.reasons) == 0
}

test_downshift_only_for_its_model if {
	d := data.gateway.decision with input as chat_with(["developer"], "o3-mini", {"usage": {"spend_today_usd": 49}})
	d.model == "o3-mini"
}

test_downshift_uses_the_profile_threshold if {
	d := data.gateway.decision with input as chat_with(["developer"], "claude-3-5-sonnet", {"usage": {"spend_today_usd": 45}})
	d.model == "claude-3-5-haiku"
}
