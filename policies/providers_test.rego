package gateway_test

import rego.v1

import data.gateway

# developer grants gpt-4o, but legal forbids openai and is local-only: privacy wins.
input_a_forbidding_role_wins_over_a_granting_one := chat(["developer", "legal"], "gpt-4o")

test_a_forbidding_role_wins_over_a_granting_one if {
	not gateway.decision.allow
	message(gateway.decision, "provider_forbidden") == "provider openai (model gpt-4o) is forbidden for roles legal"
	message(gateway.decision, "provider_not_local") == "roles legal may only use local providers; model gpt-4o runs on openai"
}

input_legal_uses_local_llama := chat(["legal"], "llama3.2")

test_legal_uses_local_llama if {
	gateway.decision.allow
	gateway.decision.model == "llama3.2"
}

input_legal_may_use_echo := chat(["legal"], "echo")

test_legal_may_use_echo if {
	gateway.decision.allow
}

# With no provider configured the pipeline routes to echo; the catalog says openai.
input_the_catalog_provider_is_judged := chat_with(["developer", "legal"], "gpt-4o", {"resource": {"model": "gpt-4o", "provider": "echo"}})

test_the_catalog_provider_is_judged if {
	not gateway.decision.allow
	has_reason(gateway.decision, "provider_not_local")
}
