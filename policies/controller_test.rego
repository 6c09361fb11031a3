# Tests of controller.rego, in the standard style (`with input as`): `opa test policies/` runs them too.
package gateway_test

import rego.v1

controller_call(roles, action, resource) := {
	"principal": {"sub": "alice", "roles": roles, "tenant": "acme", "user_id": null},
	"action": action,
	"resource": resource,
}

controller_codes(decision) := {r.code | some r in decision.reasons}

a_task := {"kind": "task", "id": "t1", "to_role": "manager", "created_by": "bob", "status": "pending"}

an_approval := {"kind": "approval", "id": "a1", "requested_by": "bob", "approver_role": "manager", "approver_user": null}

test_any_known_role_sends_a_task_to_a_known_role if {
	d := data.gateway.decision with input as controller_call(["finance"], "task.send", {"kind": "task", "to_role": "manager"})
	d.allow
}

test_nothing_is_sent_to_a_role_without_a_profile if {
	d := data.gateway.decision with input as controller_call(["finance"], "task.send", {"kind": "task", "to_role": "cfo"})
	not d.allow
	controller_codes(d) == {"unknown_target_role"}
	message(d, "unknown_target_role") == "role cfo has no profile: nothing can be sent to it"
}

test_a_caller_without_a_known_role_sends_nothing if {
	d := data.gateway.decision with input as controller_call(["intern"], "task.send", {"kind": "task", "to_role": "manager"})
	not d.allow
	"unknown_role" in controller_codes(d)
}

test_a_task_is_read_by_its_role if {
	d := data.gateway.decision with input as controller_call(["manager"], "task.read", a_task)
	d.allow
}

test_a_task_is_read_by_its_sender if {
	d := data.gateway.decision with input as controller_call(["finance"], "task.read", object.union(a_task, {"created_by": "alice"}))
	d.allow
}

test_a_task_is_not_read_by_others if {
	d := data.gateway.decision with input as controller_call(["finance"], "task.read", a_task)
	not d.allow
	controller_codes(d) == {"not_task_party"}
}

test_a_caller_lists_its_own_tasks if {
	d := data.gateway.decision with input as controller_call(["finance"], "task.read", {"kind": "task_list", "to_role": null, "created_by": null})
	d.allow
}

test_another_roles_inbox_is_closed if {
	d := data.gateway.decision with input as controller_call(["finance"], "task.read", {"kind": "task_list", "to_role": "legal", "created_by": null})
	controller_codes(d) == {"not_your_inbox"}
}

test_an_admin_reads_any_inbox if {
	d := data.gateway.decision with input as controller_call(["admin"], "task.read", {"kind": "task_list", "to_role": "legal", "created_by": null})
	d.allow
}

test_another_callers_outbox_is_closed if {
	d := data.gateway.decision with input as controller_call(["finance"], "task.read", {"kind": "task_list", "to_role": null, "created_by": "bob"})
	controller_codes(d) == {"not_your_outbox"}
}

test_the_sender_cancels_a_task if {
	d := data.gateway.decision with input as controller_call(["finance"], "task.update", object.union(a_task, {"created_by": "alice", "to_status": "cancelled"}))
	d.allow
}

test_only_workers_finish_a_task if {
	d := data.gateway.decision with input as controller_call(["finance"], "task.update", object.union(a_task, {"created_by": "alice", "to_status": "done"}))
	controller_codes(d) == {"not_task_worker"}
}

test_a_worker_finishes_a_task if {
	d := data.gateway.decision with input as controller_call(["manager"], "task.update", object.union(a_task, {"to_status": "done"}))
	d.allow
}

test_a_worker_does_not_cancel_a_task if {
	d := data.gateway.decision with input as controller_call(["manager"], "task.update", object.union(a_task, {"to_status": "cancelled"}))
	controller_codes(d) == {"not_task_sender"}
}

test_an_approval_is_decided_by_its_approver_role if {
	d := data.gateway.decision with input as controller_call(["manager"], "approval.decide", an_approval)
	d.allow
}

test_another_role_does_not_decide if {
	d := data.gateway.decision with input as controller_call(["legal"], "approval.decide", an_approval)
	controller_codes(d) == {"not_approver"}
	message(d, "not_approver") == "approval a1 waits for role manager, not alice"
}

a_named_approver := {
	"principal": {"sub": "alice", "roles": ["finance"], "tenant": "acme", "user_id": "2"},
	"action": "approval.decide",
	"resource": object.union(an_approval, {"approver_user": "2"}),
}

test_a_named_approver_decides if {
	d := data.gateway.decision with input as a_named_approver
	d.allow
}

test_the_role_alone_does_not_decide_for_a_named_approver if {
	d := data.gateway.decision with input as controller_call(["manager"], "approval.decide", object.union(an_approval, {"approver_user": "2"}))
	controller_codes(d) == {"not_approver"}
	message(d, "not_approver") == "approval a1 waits for person 2, not alice"
}

test_nobody_approves_their_own_request if {
	d := data.gateway.decision with input as controller_call(["manager"], "approval.decide", object.union(an_approval, {"requested_by": "alice"}))
	controller_codes(d) == {"self_approval"}
}

test_an_admin_decides_no_one_elses_approval if {
	d := data.gateway.decision with input as controller_call(["manager", "admin"], "approval.decide", object.union(an_approval, {"approver_role": "legal"}))
	controller_codes(d) == {"not_approver"}
}

test_the_requester_reads_an_approval if {
	d := data.gateway.decision with input as controller_call(["finance"], "approval.read", object.union(an_approval, {"requested_by": "alice"}))
	d.allow
}

test_a_bystander_does_not_read_an_approval if {
	d := data.gateway.decision with input as controller_call(["legal"], "approval.read", an_approval)
	controller_codes(d) == {"not_approval_party"}
}

test_any_role_reads_its_queue if {
	d := data.gateway.decision with input as controller_call(["legal"], "approval.read", {"kind": "approval_queue"})
	d.allow
}

test_approvals_for_a_task_need_a_party if {
	d := data.gateway.decision with input as controller_call(["finance"], "approval.request", {"kind": "approval_request", "task_id": "t1", "task_created_by": "bob", "task_to_role": "legal"})
	controller_codes(d) == {"not_task_party"}
}

test_a_task_worker_asks_for_an_approval if {
	d := data.gateway.decision with input as controller_call(["legal"], "approval.request", {"kind": "approval_request", "task_id": "t1", "task_created_by": "bob", "task_to_role": "legal"})
	d.allow
}

test_an_approval_of_a_subject if {
	d := data.gateway.decision with input as controller_call(["finance"], "approval.request", {"kind": "approval_request", "subject": "github__merge_pr"})
	d.allow
}

test_a_session_belongs_to_its_owner if {
	d := data.gateway.decision with input as controller_call(["finance"], "session.update", {"kind": "session", "id": "s1", "sub": "alice", "state": "active"})
	d.allow
}

test_someone_elses_session_is_closed if {
	d := data.gateway.decision with input as controller_call(["finance"], "session.read", {"kind": "session", "id": "s1", "sub": "bob", "state": "active"})
	controller_codes(d) == {"not_session_owner"}
}

test_a_role_reads_its_own_profile if {
	d := data.gateway.decision with input as controller_call(["finance"], "profile.read", {"kind": "profile", "role": "finance"})
	d.allow
}

test_a_role_does_not_read_another_profile if {
	d := data.gateway.decision with input as controller_call(["finance"], "profile.read", {"kind": "profile", "role": "manager"})
	controller_codes(d) == {"not_own_profile"}
}

test_an_admin_reads_any_profile if {
	d := data.gateway.decision with input as controller_call(["admin"], "profile.read", {"kind": "profile", "role": "manager"})
	d.allow
}

test_only_admins_import_the_org_chart if {
	d := data.gateway.decision with input as controller_call(["manager"], "org.import", {"kind": "org_chart"})
	controller_codes(d) == {"admin_only"}
}

test_an_admin_imports_the_org_chart if {
	d := data.gateway.decision with input as controller_call(["admin"], "org.import", {"kind": "org_chart"})
	d.allow
}

# "root" has no profile: a token group of that name grants nothing.
test_an_admin_group_without_a_profile_grants_nothing if {
	d := data.gateway.decision with input as controller_call(["finance", "root"], "org.import", {"kind": "org_chart"})
	controller_codes(d) == {"admin_only"}
}

test_a_role_is_notified if {
	d := data.gateway.decision with input as controller_call(["finance"], "notification.send", {"kind": "notification", "to_role": "manager"})
	d.allow
}

test_notifications_read_by_any_known_role if {
	d := data.gateway.decision with input as controller_call(["legal"], "notification.read", {"kind": "notification_inbox"})
	d.allow
}
