# Which models a caller may use: the catalog, the role allowlists (globs) and token caps.
package gateway

import rego.v1

# Actions that name a model in input.resource.model.
model_actions := {"chat", "completions", "embeddings", "responses", "count_tokens"}

is_model_action if input.action in model_actions

# Defined for model actions only, so no model rule runs for the others (models.list has none).
# An alias (lead, worker, default) stands for the model its profile names (routing.rego);
# every rule below then judges the resolved model, exactly as if the caller had named it.
requested_model := input.resource.model if {
	is_model_action
	not alias_asked
}

requested_model := resolved_alias if alias_asked

requested_info := data.models.models[requested_model]

# The caller's roles that grant the requested model; their limits apply to this call.
model_roles contains role if {
	some role in known_roles
	matches_any(data.profiles[role].models.allowed, requested_model)
}

model_granted if count(model_roles) > 0

deny contains reason("unknown_model", msg) if {
	is_model_action
	has_known_role
	not alias_asked # an alias that resolves names a catalog model; one that does not says so itself
	not requested_info
	msg := sprintf("model %v is not in the model catalog", [requested_model])
}

deny contains reason("model_not_allowed", msg) if {
	is_model_action
	requested_info
	has_known_role
	not model_granted
	msg := sprintf("model %s is not allowed for roles %s", [requested_model, role_list(known_roles)])
}

token_cap := most_generous({data.profiles[role].models.max_tokens | some role in model_roles})

deny contains reason("max_tokens_exceeded", msg) if {
	is_model_action
	token_cap != null
	asked := input.request.max_tokens
	is_number(asked) # null sorts below numbers: an absent max_tokens is no excess
	asked > token_cap
	msg := sprintf("max_tokens %v is above the cap of %v for model %s", [asked, token_cap, requested_model])
}

# Every catalog model the caller could call: a role grants it, that role allows its
# provider, and no privacy rule of any role excludes the provider. Used by models.list
# and to check downshift targets; evaluated only when one of those asks for it.
usable_models contains model if {
	some role in known_roles
	profile := data.profiles[role]
	some model, info in data.models.models
	matches_any(profile.models.allowed, model)
	allows_provider(profile.providers.allowed, info.provider)
	info.provider in privacy_ok_providers
}

visible_models := sort(usable_models) if input.action == "models.list"
else := []
