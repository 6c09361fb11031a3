package gateway_test

import rego.v1

# developer grants gpt-4o, but legal forbids openai and is local-only: privacy wins.
test_a_forbidding_role_wins_over_a_granting_one if {
	d := data.gateway.decision with input as chat(["developer", "legal"], "gpt-4o")
	not d.allow
	message(d, "provider_forbidden") == "provider openai (model gpt-4o) is forbidden for roles legal"
	message(d, "provider_not_local") == "roles legal may only use local providers; model gpt-4o runs on openai"
}

test_legal_uses_local_llama if {
	d := data.gateway.decision with input as chat(["legal"], "llama3.2")
	d.allow
	d.model == "llama3.2"
}

test_legal_may_use_echo if {
	d := data.gateway.decision with input as chat(["legal"], "echo")
	d.allow
}

# With no provider configured the pipeline routes to echo; the catalog says openai.
test_the_catalog_provider_is_judged if {
	d := data.gateway.decision with input as chat_with(["developer", "legal"], "gpt-4o", {"resource": {"model": "gpt-4o", "provider": "echo"}})
	not d.allow
	has_reason(d, "provider_not_local")
}
