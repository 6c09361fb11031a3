"""The agent mesh demo's agents (run by demo-mesh.sh; docs/controller.md, "The demo").

Finance's agent sends a $125,000 budget-approval task to the manager and asks for an
approval through the mesh's MCP tools (the official ``mcp`` SDK client); the manager's agent
lists its inbox and its approvals over the controller API and approves; finance's agent
checks with ``fetch_status``; the audit trail of all of it is printed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

import httpx
import httpx2
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client


def say(who: str, text: str) -> None:
    print(f"[{who}] {text}", flush=True)


async def tool(url: str, token: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """One MCP tool call on the mesh as the token's caller; the tool's JSON answer."""
    async with (
        httpx2.AsyncClient(headers={"authorization": f"Bearer {token}"}, timeout=30) as http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        result = await session.call_tool(name, arguments)
    answer: dict[str, Any] = json.loads(result.content[0].text)
    if result.is_error:
        raise SystemExit(f"{name} failed: {json.dumps(answer)}")
    return answer


def api(base: str, token: str, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    response = httpx.request(
        method, base + path, headers={"authorization": f"Bearer {token}"}, timeout=30, **kwargs
    )
    if response.status_code >= 400:
        raise SystemExit(f"{method} {path}: {response.status_code} {response.text}")
    body: dict[str, Any] = response.json()
    return body


async def demo(args: argparse.Namespace) -> str:
    mesh = args.url + args.mesh_path
    say("finance", "send_task: a $125,000 budget approval to the manager")
    task = await tool(
        mesh,
        args.finance,
        "send_task",
        {
            "target_role": "manager",
            "task_type": "budget_approval",
            "title": "Approve the Q3 marketing budget ($125,000)",
            "payload": {"amount_usd": 125000, "cost_center": "MKT-Q3"},
            "idempotency_key": f"demo-{int(time.time())}",
        },
    )
    say("finance", f"task {task['id']} is {task['status']}")
    approval = await tool(
        mesh, args.finance, "request_approval", {"task_id": task["id"], "reason": "over $50K"}
    )
    who = (
        f"person {approval['approver_user']}"
        if approval["approver_user"]
        else f"role {approval['approver_role']}"
    )
    say("finance", f"approval {approval['id']} requested; the org chart says {who} decides")
    await tool(
        mesh,
        args.finance,
        "notify",
        {"target_role": "manager", "message": "Q3 budget waits for you", "priority": "high"},
    )

    inbox = api(
        args.url, args.manager, "GET", "/api/v1/tasks", params={"to_role": "manager", "status": "pending"}
    )
    say("manager", f"inbox: {[t['title'] for t in inbox['items'] if t['id'] == task['id']]}")
    waiting = api(args.url, args.manager, "GET", "/api/v1/approvals")
    assert any(a["id"] == approval["id"] for a in waiting["items"]), (
        "the approval is not in the manager's queue"
    )
    say("manager", f"{len(waiting['items'])} approval(s) waiting; approving {approval['id']}")
    decided = api(
        args.url,
        args.manager,
        "POST",
        f"/api/v1/approvals/{approval['id']}/approve",
        json={"comment": "within plan"},
    )
    say("manager", f"approval {decided['id']} is {decided['status']}")

    status = await tool(mesh, args.finance, "fetch_status", {"task_id": task["id"]})
    say("finance", f"fetch_status: task {status['status']}, approval {status['approval']}")
    return str(status["approval"])


def audit_trail(args: argparse.Namespace, started: float) -> None:
    time.sleep(0.5)  # the audit writer batches (flush_interval_ms)
    events = api(args.url, args.auditor, "GET", "/audit", params={"since": started, "limit": 50})["events"]
    print("\naudit trail (oldest first):")
    for event in reversed(events):
        resource = {
            k: v for k, v in (event.get("resource") or {}).items() if k in ("task_id", "approval_id", "tool")
        }
        decision = "allow" if event["allow"] else "deny"
        who = f"{event['sub'] or '-':<6} {event['action']:<17} {event['route']:<26}"
        print(f"  {who} {decision:<5} {event['status']}  {resource}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--mesh-path", default="/internal/mcp/agent_mesh")
    parser.add_argument("--since", type=float, default=None, help="unix time the demo began (audit trail)")
    for role in ("finance", "manager", "auditor"):
        parser.add_argument(f"--{role}", required=True, help=f"the {role} agent's token")
    args = parser.parse_args()
    started = args.since if args.since is not None else time.time() - 1
    outcome = asyncio.run(demo(args))
    audit_trail(args, started)
    print(f"\nresult: the budget task is {outcome}")
    return 0 if outcome == "approved" else 1


if __name__ == "__main__":
    sys.exit(main())
