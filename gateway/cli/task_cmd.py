"""``skein task ...`` and ``skein approval ...``: the controller's tasks and approvals, for
operators (through the API: see ``controller_client.py``)."""

from __future__ import annotations

import argparse
from typing import Any

from gateway.cli.controller_client import call, client_arguments, show


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    task = commands.add_parser("task", help="list, show and cancel controller tasks")
    actions = task.add_subparsers(dest="task_command", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="tasks (default: yours; --to-role for a role's inbox)")
    listing.add_argument("--to-role")
    listing.add_argument("--status", choices=["pending", "in_progress", "done", "failed", "cancelled"])
    listing.add_argument("--limit", type=int, default=50)
    listing.set_defaults(handler=list_tasks)
    for name, handler, text in (
        ("show", show_task, "a task and its approvals"),
        ("cancel", cancel_task, "cancel"),
    ):
        parser = actions.add_parser(name, help=text)
        parser.add_argument("task_id")
        parser.set_defaults(handler=handler)
    for parser in (listing, *(actions.choices[n] for n in ("show", "cancel"))):
        client_arguments(parser)

    approval = commands.add_parser("approval", help="list, show, approve and reject approvals")
    verbs = approval.add_subparsers(dest="approval_command", required=True, metavar="ACTION")
    waiting = verbs.add_parser("list", help="approvals waiting for you")
    waiting.add_argument(
        "--status", default="pending", choices=["pending", "approved", "rejected", "expired", "used"]
    )
    waiting.set_defaults(handler=list_approvals)
    client_arguments(waiting)
    one = verbs.add_parser("show", help="one approval")
    one.add_argument("approval_id")
    one.set_defaults(handler=show_approval)
    client_arguments(one)
    for verb in ("approve", "reject"):
        decide = verbs.add_parser(verb, help=f"{verb} an approval")
        decide.add_argument("approval_id")
        decide.add_argument("--comment")
        decide.set_defaults(handler=decide_approval, verb=verb)
        client_arguments(decide)


def _task_row(task: dict[str, Any]) -> str:
    kind = f"{task['status']:<11}  {task['task_type']:<16}"
    return f"{task['id']}  {kind}  to {task['to_role']:<10}  {task['title']}"


def _approval_row(approval: dict[str, Any]) -> str:
    who = (
        f"person {approval['approver_user']}"
        if approval["approver_user"]
        else f"role {approval['approver_role']}"
    )
    return (
        f"{approval['id']}  {approval['status']:<8}  {approval['subject']:<32}  by {approval['requested_by']}"
        f"  for {who}"
    )


def list_tasks(args: argparse.Namespace) -> int:
    params = {
        "limit": args.limit,
        **{k: v for k, v in (("to_role", args.to_role), ("status", args.status)) if v},
    }
    body = call(args, "GET", "/api/v1/tasks", params=params)
    return show(args, body, [_task_row(t) for t in body["items"]])


def show_task(args: argparse.Namespace) -> int:
    body = call(args, "GET", f"/api/v1/tasks/{args.task_id}/status")
    rows = [_task_row(body["task"]), *(_approval_row(a) for a in body["approvals"])]
    return show(args, body, rows)


def cancel_task(args: argparse.Namespace) -> int:
    body = call(args, "POST", f"/api/v1/tasks/{args.task_id}/cancel")
    return show(args, body, [_task_row(body)])


def list_approvals(args: argparse.Namespace) -> int:
    body = call(args, "GET", "/api/v1/approvals", params={"status": args.status})
    return show(args, body, [_approval_row(a) for a in body["items"]])


def show_approval(args: argparse.Namespace) -> int:
    body = call(args, "GET", f"/api/v1/approvals/{args.approval_id}")
    return show(args, body, [_approval_row(body)])


def decide_approval(args: argparse.Namespace) -> int:
    comment = {"comment": args.comment} if args.comment else {}
    body = call(args, "POST", f"/api/v1/approvals/{args.approval_id}/{args.verb}", json=comment)
    return show(args, body, [_approval_row(body)])
