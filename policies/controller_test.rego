# Tests of controller.rego. They state their input in main's runner convention (`input_<name>`
# beside `test_<name>`): regopy aborts on `with input as`. With the regorus engine the same
# cases read `d := data.gateway.decision with input as <input_<name>>`.
package gateway_test

import rego.v1

import data.gateway

controller_call(roles, action, resource) := {
	"principal": {"sub": "alice", "roles": roles, "tenant": "acme", "user_id": null},
	"action": action,
	"resource": resource,
}

controller_codes(decision) := {r.code | some r in decision.reasons}

a_task := {"kind": "task", "id": "t1", "to_role": "manager", "created_by": "bob", "status": "pending"}

an_approval := {"kind": "approval", "id": "a1", "requested_by": "bob", "approver_role": "manager", "approver_user": null}

input_any_known_role_sends_a_task_to_a_known_role := controller_call(["finance"], "task.send", {"kind": "task", "to_role": "manager"})

test_any_known_role_sends_a_task_to_a_known_role if gateway.decision.allow

input_nothing_is_sent_to_a_role_without_a_profile := controller_call(["finance"], "task.send", {"kind": "task", "to_role": "cfo"})

test_nothing_is_sent_to_a_role_without_a_profile if {
	not gateway.decision.allow
	controller_codes(gateway.decision) == {"unknown_target_role"}
	message(gateway.decision, "unknown_target_role") == "role cfo has no profile: nothing can be sent to it"
}

input_a_caller_without_a_known_role_sends_nothing := controller_call(["intern"], "task.send", {"kind": "task", "to_role": "manager"})

test_a_caller_without_a_known_role_sends_nothing if {
	not gateway.decision.allow
	"unknown_role" in controller_codes(gateway.decision)
}

input_a_task_is_read_by_its_role := controller_call(["manager"], "task.read", a_task)

test_a_task_is_read_by_its_role if gateway.decision.allow

input_a_task_is_read_by_its_sender := controller_call(["finance"], "task.read", object.union(a_task, {"created_by": "alice"}))

test_a_task_is_read_by_its_sender if gateway.decision.allow

input_a_task_is_not_read_by_others := controller_call(["finance"], "task.read", a_task)

test_a_task_is_not_read_by_others if {
	not gateway.decision.allow
	controller_codes(gateway.decision) == {"not_task_party"}
}

input_a_caller_lists_its_own_tasks := controller_call(["finance"], "task.read", {"kind": "task_list", "to_role": null, "created_by": null})

test_a_caller_lists_its_own_tasks if gateway.decision.allow

input_another_roles_inbox_is_closed := controller_call(["finance"], "task.read", {"kind": "task_list", "to_role": "legal", "created_by": null})

test_another_roles_inbox_is_closed if controller_codes(gateway.decision) == {"not_your_inbox"}

input_an_admin_reads_any_inbox := controller_call(["admin"], "task.read", {"kind": "task_list", "to_role": "legal", "created_by": null})

test_an_admin_reads_any_inbox if gateway.decision.allow

input_another_callers_outbox_is_closed := controller_call(["finance"], "task.read", {"kind": "task_list", "to_role": null, "created_by": "bob"})

test_another_callers_outbox_is_closed if controller_codes(gateway.decision) == {"not_your_outbox"}

input_the_sender_cancels_a_task := controller_call(["finance"], "task.update", object.union(a_task, {"created_by": "alice", "to_status": "cancelled"}))

test_the_sender_cancels_a_task if gateway.decision.allow

input_only_workers_finish_a_task := controller_call(["finance"], "task.update", object.union(a_task, {"created_by": "alice", "to_status": "done"}))

test_only_workers_finish_a_task if controller_codes(gateway.decision) == {"not_task_worker"}

input_a_worker_finishes_a_task := controller_call(["manager"], "task.update", object.union(a_task, {"to_status": "done"}))

test_a_worker_finishes_a_task if gateway.decision.allow

input_a_worker_does_not_cancel_a_task := controller_call(["manager"], "task.update", object.union(a_task, {"to_status": "cancelled"}))

test_a_worker_does_not_cancel_a_task if controller_codes(gateway.decision) == {"not_task_sender"}

input_an_approval_is_decided_by_its_approver_role := controller_call(["manager"], "approval.decide", an_approval)

test_an_approval_is_decided_by_its_approver_role if gateway.decision.allow

input_another_role_does_not_decide := controller_call(["legal"], "approval.decide", an_approval)

test_another_role_does_not_decide if {
	controller_codes(gateway.decision) == {"not_approver"}
	message(gateway.decision, "not_approver") == "approval a1 waits for role manager, not alice"
}

input_a_named_approver_decides := {
	"principal": {"sub": "alice", "roles": ["finance"], "tenant": "acme", "user_id": "2"},
	"action": "approval.decide",
	"resource": object.union(an_approval, {"approver_user": "2"}),
}

test_a_named_approver_decides if gateway.decision.allow

input_the_role_alone_does_not_decide_for_a_named_approver := controller_call(["manager"], "approval.decide", object.union(an_approval, {"approver_user": "2"}))

test_the_role_alone_does_not_decide_for_a_named_approver if {
	controller_codes(gateway.decision) == {"not_approver"}
	message(gateway.decision, "not_approver") == "approval a1 waits for person 2, not alice"
}

input_nobody_approves_their_own_request := controller_call(["manager"], "approval.decide", object.union(an_approval, {"requested_by": "alice"}))

test_nobody_approves_their_own_request if controller_codes(gateway.decision) == {"self_approval"}

input_an_admin_decides_no_one_elses_approval := controller_call(["manager", "admin"], "approval.decide", object.union(an_approval, {"approver_role": "legal"}))

test_an_admin_decides_no_one_elses_approval if controller_codes(gateway.decision) == {"not_approver"}

input_the_requester_reads_an_approval := controller_call(["finance"], "approval.read", object.union(an_approval, {"requested_by": "alice"}))

test_the_requester_reads_an_approval if gateway.decision.allow

input_a_bystander_does_not_read_an_approval := controller_call(["legal"], "approval.read", an_approval)

test_a_bystander_does_not_read_an_approval if controller_codes(gateway.decision) == {"not_approval_party"}

input_any_role_reads_its_queue := controller_call(["legal"], "approval.read", {"kind": "approval_queue"})

test_any_role_reads_its_queue if gateway.decision.allow

input_approvals_for_a_task_need_a_party := controller_call(["finance"], "approval.request", {"kind": "approval_request", "task_id": "t1", "task_created_by": "bob", "task_to_role": "legal"})

test_approvals_for_a_task_need_a_party if controller_codes(gateway.decision) == {"not_task_party"}

input_a_task_worker_asks_for_an_approval := controller_call(["legal"], "approval.request", {"kind": "approval_request", "task_id": "t1", "task_created_by": "bob", "task_to_role": "legal"})

test_a_task_worker_asks_for_an_approval if gateway.decision.allow

input_an_approval_of_a_subject := controller_call(["finance"], "approval.request", {"kind": "approval_request", "subject": "github__merge_pr"})

test_an_approval_of_a_subject if gateway.decision.allow

input_a_session_belongs_to_its_owner := controller_call(["finance"], "session.update", {"kind": "session", "id": "s1", "sub": "alice", "state": "active"})

test_a_session_belongs_to_its_owner if gateway.decision.allow

input_someone_elses_session_is_closed := controller_call(["finance"], "session.read", {"kind": "session", "id": "s1", "sub": "bob", "state": "active"})

test_someone_elses_session_is_closed if controller_codes(gateway.decision) == {"not_session_owner"}

input_a_role_reads_its_own_profile := controller_call(["finance"], "profile.read", {"kind": "profile", "role": "finance"})

test_a_role_reads_its_own_profile if gateway.decision.allow

input_a_role_does_not_read_another_profile := controller_call(["finance"], "profile.read", {"kind": "profile", "role": "manager"})

test_a_role_does_not_read_another_profile if controller_codes(gateway.decision) == {"not_own_profile"}

input_an_admin_reads_any_profile := controller_call(["admin"], "profile.read", {"kind": "profile", "role": "manager"})

test_an_admin_reads_any_profile if gateway.decision.allow

input_only_admins_import_the_org_chart := controller_call(["manager"], "org.import", {"kind": "org_chart"})

test_only_admins_import_the_org_chart if controller_codes(gateway.decision) == {"admin_only"}

input_an_admin_imports_the_org_chart := controller_call(["admin"], "org.import", {"kind": "org_chart"})

test_an_admin_imports_the_org_chart if gateway.decision.allow

# "root" has no profile: a token group of that name grants nothing.
input_an_admin_group_without_a_profile_grants_nothing := controller_call(["finance", "root"], "org.import", {"kind": "org_chart"})

test_an_admin_group_without_a_profile_grants_nothing if controller_codes(gateway.decision) == {"admin_only"}

input_a_role_is_notified := controller_call(["finance"], "notification.send", {"kind": "notification", "to_role": "manager"})

test_a_role_is_notified if gateway.decision.allow

input_notifications_read_by_any_known_role := controller_call(["legal"], "notification.read", {"kind": "notification_inbox"})

test_notifications_read_by_any_known_role if gateway.decision.allow
