# Where a model runs: provider allow/forbid lists and local-only roles.
# The provider is always the catalog's provider for the model: input.resource.provider is
# informational, so routing (for example the built-in echo fallback) cannot change a decision.
package gateway

import rego.v1

requested_provider := requested_info.provider

# An empty allowed list means "any provider not forbidden".
allows_provider(allowed, _) if count(allowed) == 0

allows_provider(allowed, provider) if provider in allowed

# Allowed: some role that grants the model also allows its provider.
provider_allowed if {
	some role in model_roles
	allows_provider(data.profiles[role].providers.allowed, requested_provider)
}

# Forbidden and local-only are privacy controls: any one of the caller's roles imposes them.
forbidding_roles contains role if {
	some role in known_roles
	requested_provider in data.profiles[role].providers.forbidden
}

forbidden_providers := {provider | some role in known_roles; some provider in data.profiles[role].providers.forbidden}

local_only_roles := {role | some role in known_roles; data.profiles[role].privacy.local_only}

local_required if count(local_only_roles) > 0

# Providers that no privacy rule of the caller's roles excludes.
privacy_ok_providers contains provider if {
	some provider, info in data.models.providers
	not provider in forbidden_providers
	not local_required
}

privacy_ok_providers contains provider if {
	some provider, info in data.models.providers
	not provider in forbidden_providers
	info.local == true
}

deny contains reason("provider_not_allowed", msg) if {
	is_model_action
	model_granted
	not provider_allowed
	msg := sprintf("provider %s (model %s) is not allowed for roles %s", [requested_provider, requested_model, role_list(model_roles)])
}

deny contains reason("provider_forbidden", msg) if {
	is_model_action
	model_granted
	count(forbidding_roles) > 0
	msg := sprintf("provider %s (model %s) is forbidden for roles %s", [requested_provider, requested_model, role_list(forbidding_roles)])
}

deny contains reason("provider_not_local", msg) if {
	is_model_action
	model_granted
	local_required
	not data.models.providers[requested_provider].local
	msg := sprintf("roles %s may only use local providers; model %s runs on %s", [role_list(local_only_roles), requested_model, requested_provider])
}
