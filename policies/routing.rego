# Routing: model aliases (lead, worker, default) and task-aware downshift.
#
# A caller may name an alias instead of a model; the caller's profiles say which model it
# stands for. With several roles, the first role (by name) whose profile sets the alias
# decides, so the answer never depends on the order of the token's groups. An alias no
# profile sets is refused (model_alias_unresolved), never guessed.
#
# A call may declare its task (the x-skein-task header, checked by the gateway against a
# closed vocabulary before policy sees it). A profile's models.worker_tasks sends those tasks
# to the profile's worker model, when the worker is cheaper than the requested model, can do
# the same kind of work, and is usable by the caller (its provider allowed, privacy held).
package gateway

import rego.v1

model_aliases := {"default", "lead", "worker"}

alias_asked if input.resource.model in model_aliases

alias_name := input.resource.model if {
	is_model_action
	alias_asked
}

# Roles whose profile sets the alias, sorted so the first one is deterministic.
alias_roles := sort([role |
	some role in known_roles
	is_string(data.profiles[role].models[alias_name])
])

resolved_alias := data.profiles[alias_roles[0]].models[alias_name]

deny contains reason("model_alias_unresolved", msg) if {
	alias_name
	has_known_role
	count(alias_roles) == 0
	msg := sprintf("model alias %s is not set in the profiles of roles %s", [alias_name, role_list(known_roles)])
}

notes contains reason("model_alias", msg) if {
	alias_name
	target := resolved_alias
	msg := sprintf("alias %s -> %s (role %s)", [alias_name, target, alias_roles[0]])
}

# -- task-aware downshift ------------------------------------------------------------------

task_name := input.task if is_string(input.task)

# Roles that send this task to their worker model, sorted for a deterministic first.
task_roles := sort([role |
	some role in known_roles
	profile := data.profiles[role]
	task_name in object.get(profile.models, "worker_tasks", [])
	is_string(profile.models.worker)
])

model_price(info) := info.input_per_1k + info.output_per_1k

task_target := target if {
	is_model_action
	model_granted
	target := data.profiles[task_roles[0]].models.worker
	target != requested_model
	target in usable_models
	target_info := data.models.models[target]
	target_info.kind == requested_info.kind
	model_price(target_info) < model_price(requested_info) # a downshift, never an upshift
}

notes contains reason("task_downshifted", msg) if {
	target := task_target
	msg := sprintf("task %s goes to the worker model of role %s; %s -> %s", [task_name, task_roles[0], requested_model, target])
}
