# The entry document: data.gateway.decision, the contract in docs/policy-guide.md.
#
# Every concern file adds to two sets: `deny` (reasons that block the call) and `notes`
# (reasons recorded on an allow, such as a downshift). A call is allowed only when an
# action-specific `permitted` rule holds and nothing is denied; otherwise it is denied,
# with `no_rule_matched` when no rule had anything to say (the default deny).
package gateway

import rego.v1

permitted if {
	is_model_action
	model_granted
}

permitted if {
	input.action in {"models.list", "tools.list"}
	has_known_role
}

permitted if {
	input.action == "tools.call"
	count(tool_roles) > 0
}

default allow := false

allow if {
	permitted
	count(deny) == 0
}

# Sorted, so both engines give the same order (by code, then message).
reasons := sort(notes) if allow
else := sort(deny) if count(deny) > 0
else := [reason("no_rule_matched", no_rule_message)]

no_rule_message := sprintf("no rule allows action %v for roles %s", [action, role_list(caller_roles)])

default action := null

action := input.action

# The model to serve: the task's worker model, else the budget downshift target, else the
# requested model (an alias resolved; null if none).
default served_model := null

served_model := target if {
	allow
	target := task_target
} else := target if {
	allow
	target := downshift_target
} else := requested_model if is_model_action

decision := {
	"allow": allow,
	"reasons": reasons,
	"model": served_model,
	"guard": {"mode": guard_mode, "entities": guard_entities},
	"approval_required": approval_required,
	"models": visible_models,
}
