# The controller API (docs/controller.md): tasks, approvals, sessions, profiles, the org chart
# and notifications. Every action needs a caller with a known role; the rules below say who
# may do what to which record (the record's fields are in input.resource, the caller's row
# in the org chart is input.principal.user_id, null when it has none).
package gateway

import rego.v1

controller_actions := {
	"task.send", "task.read", "task.update",
	"approval.request", "approval.read", "approval.decide",
	"session.create", "session.read", "session.update",
	"profile.read", "org.import", "notification.send", "notification.read",
}

permitted if {
	input.action in controller_actions
	has_known_role
}

# Admins hold the admin role, which (like every role) counts only when the bundle has its
# profile, so a stray "admin" group in a token grants nothing. Admins read every role's
# profile, any inbox or outbox, any task, approval or session, and import the org chart;
# they do not decide other people's approvals.
controller_admin if "admin" in known_roles

caller_sub := input.principal.sub

# -- tasks -----------------------------------------------------------------------------------

deny contains reason("unknown_target_role", msg) if {
	input.action in {"task.send", "notification.send"}
	not data.profiles[input.resource.to_role].role
	msg := sprintf("role %v has no profile: nothing can be sent to it", [input.resource.to_role])
}

task_party if input.resource.created_by == caller_sub

task_party if input.resource.to_role in known_roles

task_party if controller_admin

deny contains reason("not_task_party", msg) if {
	input.action == "task.read"
	input.resource.kind == "task"
	not task_party
	msg := concat("", ["task ", input.resource.id, " is neither for roles ", role_list(known_roles), " nor sent by ", caller_sub])
}

deny contains reason("not_your_inbox", msg) if {
	input.action == "task.read"
	input.resource.kind == "task_list"
	role := input.resource.to_role
	role != null
	not role in known_roles
	not controller_admin
	msg := concat("", ["the inbox of role ", role, " is not readable for roles ", role_list(known_roles)])
}

deny contains reason("not_your_outbox", msg) if {
	input.action == "task.read"
	input.resource.kind == "task_list"
	sender := input.resource.created_by
	sender != null
	sender != caller_sub
	not controller_admin
	msg := concat("", ["the tasks sent by ", sender, " are not readable for ", caller_sub])
}

# Workers (the task's role) move it along; only its sender cancels it.
deny contains reason("not_task_worker", msg) if {
	input.action == "task.update"
	input.resource.to_status != "cancelled"
	not input.resource.to_role in known_roles
	not controller_admin
	msg := concat("", ["only role ", input.resource.to_role, " works on task ", input.resource.id])
}

deny contains reason("not_task_sender", msg) if {
	input.action == "task.update"
	input.resource.to_status == "cancelled"
	input.resource.created_by != caller_sub
	not controller_admin
	msg := concat("", ["only its sender cancels task ", input.resource.id])
}

# -- approvals -------------------------------------------------------------------------------

deny contains reason("not_task_party", msg) if {
	input.action == "approval.request"
	input.resource.task_id
	not approval_task_party
	msg := concat("", ["task ", input.resource.task_id, " is neither for roles ", role_list(known_roles), " nor sent by ", caller_sub])
}

approval_task_party if input.resource.task_created_by == caller_sub

approval_task_party if input.resource.task_to_role in known_roles

approval_task_party if controller_admin

# The approver the org chart named (one person), or any holder of the approver role.
approval_approver if {
	input.resource.approver_user != null
	input.resource.approver_user == input.principal.user_id
}

approval_approver if {
	input.resource.approver_user == null
	input.resource.approver_role in known_roles
}

deny contains reason("not_approval_party", msg) if {
	input.action == "approval.read"
	input.resource.kind == "approval"
	input.resource.requested_by != caller_sub
	not approval_approver
	not controller_admin
	msg := concat("", ["approval ", input.resource.id, " is neither requested by nor waiting for ", caller_sub])
}

deny contains reason("self_approval", msg) if {
	input.action == "approval.decide"
	input.resource.requested_by == caller_sub
	msg := concat("", ["nobody decides their own approval (", input.resource.id, ")"])
}

deny contains reason("not_approver", msg) if {
	input.action == "approval.decide"
	not approval_approver
	msg := concat("", ["approval ", input.resource.id, " waits for ", approver_name, ", not ", caller_sub])
}

approver_name := concat("", ["person ", input.resource.approver_user]) if {
	input.resource.approver_user != null
} else := concat("", ["role ", input.resource.approver_role])

# -- sessions, profiles, the org chart -------------------------------------------------------

deny contains reason("not_session_owner", msg) if {
	input.action in {"session.read", "session.update"}
	input.resource.sub != caller_sub
	not controller_admin
	msg := concat("", ["session ", input.resource.id, " belongs to someone else"])
}

deny contains reason("not_own_profile", msg) if {
	input.action == "profile.read"
	not input.resource.role in known_roles
	not controller_admin
	msg := concat("", ["roles ", role_list(known_roles), " may read their own profiles only, not ", input.resource.role])
}

deny contains reason("admin_only", msg) if {
	input.action == "org.import"
	not controller_admin
	msg := "only the admin role imports the org chart"
}
