package gateway_test

import rego.v1

# -- aliases ---------------------------------------------------------------------------------

test_lead_resolves_from_the_profile if {
	d := data.gateway.decision with input as chat(["finance"], "lead")
	d.allow
	d.model == "claude-3-5-sonnet"
	codes(d) == ["model_alias"]
	message(d, "model_alias") == "alias lead -> claude-3-5-sonnet (role finance)"
}

test_worker_and_default_resolve if {
	w := data.gateway.decision with input as chat(["finance"], "worker")
	w.model == "gpt-4o-mini"
	dflt := data.gateway.decision with input as chat(["marketing"], "default")
	dflt.model == "gpt-4o"
}

# The resolved model is judged like a named one: budgets, caps and downshifts apply to it.
test_an_alias_is_downshifted_like_its_model if {
	d := data.gateway.decision with input as chat_with(["finance"], "lead", {"usage": {"spend_today_usd": 17}})
	d.model == "claude-3-5-haiku"
	codes(d) == ["model_alias", "model_downshifted"]
}

test_an_alias_obeys_the_token_cap if {
	d := data.gateway.decision with input as chat_with(["finance"], "lead", {"request": {"max_tokens": 100000}})
	not d.allow
	codes(d) == ["max_tokens_exceeded"]
}

# With several roles the first by name that sets the alias decides (hr before marketing).
test_several_roles_first_by_name if {
	d := data.gateway.decision with input as chat(["marketing", "hr"], "worker")
	d.model == "gpt-4o-mini"
	message(d, "model_alias") == "alias worker -> gpt-4o-mini (role hr)"
}

test_an_unset_alias_is_refused if {
	d := data.gateway.decision with input as chat(["admin"], "lead")
	not d.allow
	codes(d) == ["model_alias_unresolved"]
	message(d, "model_alias_unresolved") == "model alias lead is not set in the profiles of roles admin"
	d.model == null
}

test_an_alias_for_an_unknown_role_is_unknown_role if {
	d := data.gateway.decision with input as chat(["intern"], "lead")
	not d.allow
	codes(d) == ["unknown_role"]
}

# local_only holds for an alias too: legal's lead is local.
test_local_only_alias if {
	d := data.gateway.decision with input as chat(["legal"], "lead")
	d.allow
	d.model == "llama3.2"
}

# -- tasks -----------------------------------------------------------------------------------

test_a_summary_goes_to_the_worker if {
	d := data.gateway.decision with input as chat_with(["finance"], "claude-3-5-sonnet", {"task": "summarize"})
	d.allow
	d.model == "gpt-4o-mini"
	codes(d) == ["task_downshifted"]
	message(d, "task_downshifted") == "task summarize goes to the worker model of role finance; claude-3-5-sonnet -> gpt-4o-mini"
}

test_a_task_not_listed_stays if {
	d := data.gateway.decision with input as chat_with(["finance"], "claude-3-5-sonnet", {"task": "code"})
	d.model == "claude-3-5-sonnet"
	count(d.reasons) == 0
}

test_no_task_no_downshift if {
	d := data.gateway.decision with input as chat_with(["finance"], "claude-3-5-sonnet", {"task": null})
	d.model == "claude-3-5-sonnet"
}

# Never an upshift: developer's worker (gpt-4o) costs more than gpt-4o-mini.
test_a_task_never_upshifts if {
	d := data.gateway.decision with input as chat_with(["developer"], "gpt-4o-mini", {"task": "summarize"})
	d.model == "gpt-4o-mini"
	count(d.reasons) == 0
}

test_the_lead_alias_with_a_summary_goes_to_the_worker if {
	d := data.gateway.decision with input as chat_with(["finance"], "lead", {"task": "summarize"})
	d.model == "gpt-4o-mini"
	codes(d) == ["model_alias", "task_downshifted"]
}

# The task downshift takes precedence over the budget downshift (one reason, one target).
test_task_before_budget if {
	d := data.gateway.decision with input as chat_with(["finance"], "claude-3-5-sonnet", {"task": "summarize", "usage": {"spend_today_usd": 19}})
	d.model == "gpt-4o-mini"
	codes(d) == ["task_downshifted"]
}

# An embedding call is never sent to a chat worker.
test_a_task_keeps_the_model_kind if {
	d := data.gateway.decision with input as {"principal": {"sub": "a", "roles": ["finance"]}, "action": "embeddings", "resource": {"model": "text-embedding-3-small"}, "task": "classify"}
	d.model == "text-embedding-3-small"
}

# A denied call is not downshifted into an allowed one.
test_a_denied_model_stays_denied if {
	d := data.gateway.decision with input as chat_with(["finance"], "gpt-4o", {"task": "summarize"})
	not d.allow
	codes(d) == ["model_not_allowed"]
}
