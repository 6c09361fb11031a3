# Spend: budget limits and cost-aware downshift.
# USD budgets only bind priced models (echo and local models cost nothing); the token
# budget binds every model, since local inference still costs GPU time.
package gateway

import rego.v1

default spent_today_usd := 0

spent_today_usd := input.usage.spend_today_usd

default spent_month_usd := 0

spent_month_usd := input.usage.spend_month_usd

default tokens_today := 0

tokens_today := input.usage.tokens_today

requested_priced if requested_info.input_per_1k > 0

requested_priced if requested_info.output_per_1k > 0

# The most generous limit of a budget field among the roles that grant the model (null:
# unlimited). Profiles are pydantic dumps, so every field is present (null when unset).
budget_limit(field) := most_generous({data.profiles[role].budgets[field] | some role in model_roles})

# [name, limit, used] for every budget that binds this call.
budget_checks contains ["daily USD", budget_limit("daily_usd"), spent_today_usd] if requested_priced

budget_checks contains ["monthly USD", budget_limit("monthly_usd"), spent_month_usd] if requested_priced

budget_checks contains ["daily token", budget_limit("daily_tokens"), tokens_today] if requested_info

deny contains reason("budget_exceeded", msg) if {
	is_model_action
	model_granted
	some [name, limit, used] in budget_checks
	limit != null
	used >= limit
	msg := sprintf("%s budget of %v is used up (%v used); model %s", [name, limit, used, requested_model])
}

# Share of the daily USD budget already spent, in percent.
daily_used_pct := (spent_today_usd * 100) / budget_limit("daily_usd") if budget_limit("daily_usd") > 0

downshift_rules contains rule if {
	is_model_action
	some role in model_roles
	some rule in data.profiles[role].models.downshift
	rule.from == requested_model
	daily_used_pct >= rule.budget_used_pct
	rule.to in usable_models
}

# Several rules may fire; the highest threshold wins (the latest stage of the spend curve),
# ties broken by name so the decision is deterministic.
downshift_top := max({rule.budget_used_pct | some rule in downshift_rules})

downshift_target := min({rule.to | some rule in downshift_rules; rule.budget_used_pct == downshift_top})

# A task downshift (routing.rego) takes precedence: the call is served by the worker then.
notes contains reason("model_downshifted", msg) if {
	not task_target
	target := downshift_target
	msg := sprintf("daily budget %v%% used; %s -> %s", [round(daily_used_pct), requested_model, target])
}
