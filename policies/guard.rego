# What the privacy guard must do: with several roles, the strictest mode and every entity.
package gateway

import rego.v1

# Modes from least to most strict. mask ranks above pseudonymize: pseudonyms are
# deterministic per tenant, so the upstream can link the same person across calls.
guard_modes := ["off", "detect", "pseudonymize", "mask", "block"]

mode_rank := {mode: rank | some rank, mode in guard_modes}

# No known role: block, so nothing leaves even if a later stage ignored the deny.
guard_mode := mode if {
	top := max({mode_rank[data.profiles[role].privacy.mode] | some role in known_roles})
	mode := guard_modes[top]
} else := "block"

# An empty entity list means "every entity the guard knows", which covers any other list.
guard_entities := [] if {
	some role in known_roles
	count(data.profiles[role].privacy.entities) == 0
} else := sort(entity_union)

entity_union := {entity | some role in known_roles; some entity in data.profiles[role].privacy.entities}
