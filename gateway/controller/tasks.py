"""Tasks handed between roles: create, read, list, update (compare-and-set), cancel, status.

A task's life::

    pending -> in_progress -> done | failed
    pending | in_progress -> cancelled        (pending -> failed too: it could not start)

Two workers cannot both finish one task: every change is a compare-and-set on the status
the worker saw (or named in ``expected_status``); the loser gets a 409 naming the status the
task has now.
"""

from __future__ import annotations

from gateway.controller.call import ControlCall
from gateway.controller.errors import Conflict
from gateway.controller.models import TaskCreate, TaskList, TaskUpdate
from gateway.controller.operation import Operation, Reply
from gateway.controller.service import Service
from gateway.controller.views import approval_view, page, task_view
from gateway.db.controller import Task, TaskQuery, TaskStatus
from gateway.errors import NotFound
from gateway.trail import new_id

TRANSITIONS: dict[str, frozenset[str]] = {
    "pending": frozenset({"in_progress", "cancelled", "failed"}),
    "in_progress": frozenset({"done", "failed", "cancelled"}),
    "done": frozenset(),
    "failed": frozenset(),
    "cancelled": frozenset(),
}
_TAGS = ("tasks",)


async def load_task(service: Service, call: ControlCall) -> None:
    task_id = call.path_params["task_id"]
    task = await service.use(lambda s: s.get_task(task_id))
    if task is None or task.tenant != call.principal.tenant:
        raise NotFound(f"no task {task_id}")
    call.subject = task
    call.resource = {
        "kind": "task",
        "id": task.id,
        "to_role": task.to_role,
        "created_by": task.created_by,
        "status": task.status,
        "task_type": task.task_type,
    }
    call.audit(task_id=task.id, to_role=task.to_role, status=task.status)


async def _new_task(service: Service, call: ControlCall) -> None:
    request: TaskCreate = call.request
    call.resource = {"kind": "task", "to_role": request.target_role, "task_type": request.task_type}


async def _create(service: Service, call: ControlCall) -> Reply:
    request: TaskCreate = call.request
    now = service.now()
    task = Task(
        id=new_id(),
        tenant=call.principal.tenant,
        created_by=call.principal.sub,
        to_role=request.target_role,
        title=request.title,
        payload=request.payload,
        status="pending",
        result=None,
        created_at=now,
        updated_at=now,
        task_type=request.task_type,
    )
    await service.use(lambda s: s.add_task(task))
    call.audit(task_id=task.id, to_role=task.to_role, task_type=task.task_type)
    return Reply(201, task_view(task), {"location": f"/api/v1/tasks/{task.id}"})


async def _get(service: Service, call: ControlCall) -> Reply:
    return Reply(200, task_view(call.subject))


async def _status(service: Service, call: ControlCall) -> Reply:
    """The task and its approvals: what ``fetch_status`` answers."""
    task: Task = call.subject
    now = service.now()
    approvals = [approval_view(a, now) for a in await service.use(lambda s: s.task_approvals(task.id))]
    latest = approvals[-1]["status"] if approvals else None
    body = {"task_id": task.id, "status": task.status, "approval": latest, "task": task_view(task)}
    return Reply(200, {**body, "approvals": approvals})


async def _scope(service: Service, call: ControlCall) -> None:
    query: TaskList = call.request
    call.resource = {"kind": "task_list", "to_role": query.to_role, "created_by": query.created_by}


async def _list(service: Service, call: ControlCall) -> Reply:
    query: TaskList = call.request
    mine = query.to_role is None and query.created_by is None
    search = TaskQuery(
        tenant=call.principal.tenant,
        # No filter: the caller's own tasks (to one of its roles, or sent by it).
        to_roles=call.roles if mine else ((query.to_role,) if query.to_role else None),
        created_by=call.principal.sub if mine else query.created_by,
        status=query.status,
        task_type=query.task_type,
        after=query.after,
        limit=query.limit,
    )
    tasks = await service.use(lambda s: s.list_tasks(search))
    return Reply(200, page([task_view(t) for t in tasks], query.limit))


async def _load_for_update(service: Service, call: ControlCall) -> None:
    await load_task(service, call)
    request: TaskUpdate = call.request
    call.resource["to_status"] = request.status


async def _load_for_cancel(service: Service, call: ControlCall) -> None:
    await load_task(service, call)
    call.resource["to_status"] = "cancelled"


async def _update(service: Service, call: ControlCall) -> Reply:
    request: TaskUpdate = call.request
    task = await change_status(service, call.subject, request.status, request.expected_status, request.result)
    call.audit(status=task.status)
    return Reply(200, task_view(task))


async def _cancel(service: Service, call: ControlCall) -> Reply:
    task = await change_status(service, call.subject, "cancelled", None, None)
    call.audit(status=task.status)
    return Reply(200, task_view(task))


async def change_status(
    service: Service,
    task: Task,
    status: TaskStatus,
    expected: TaskStatus | None,
    result: dict[str, object] | None,
) -> Task:
    seen = expected or task.status
    if expected is not None and expected != task.status:
        raise _conflict(task, f"task {task.id} is {task.status}, not {expected}")
    if status not in TRANSITIONS[seen]:
        raise _conflict(task, f"task {task.id} is {task.status}: it cannot become {status}")
    changed = await service.use(lambda s: s.set_task_status(task.id, seen, status, service.now(), result))
    if changed is None:  # someone else changed it first
        now = await service.use(lambda s: s.get_task(task.id))
        current = now.status if now else "deleted"
        raise Conflict(f"task {task.id} is now {current}", reason="task_conflict", current=current)
    return changed


def _conflict(task: Task, message: str) -> Conflict:
    return Conflict(message, reason="invalid_transition", current=task.status)


OPERATIONS = (
    Operation(
        "tasks.create", "POST", "/api/v1/tasks", "task.send", "send a task to a role",
        _create, _new_task, body=TaskCreate, idempotent=True, success=201, tags=_TAGS,
    ),
    Operation(
        "tasks.list", "GET", "/api/v1/tasks", "task.read",
        "list tasks (default: the caller's own: to its roles or sent by it)",
        _list, _scope, query=TaskList, tags=_TAGS,
    ),
    Operation(
        "tasks.get", "GET", "/api/v1/tasks/{task_id}", "task.read", "read a task",
        _get, load_task, tags=_TAGS,
    ),
    Operation(
        "tasks.status", "GET", "/api/v1/tasks/{task_id}/status", "task.read",
        "a task's status and its approvals (the mesh's fetch_status)", _status, load_task, tags=_TAGS,
    ),
    Operation(
        "tasks.update", "PATCH", "/api/v1/tasks/{task_id}", "task.update",
        "change a task's status (compare-and-set)", _update, _load_for_update, body=TaskUpdate, tags=_TAGS,
    ),
    Operation(
        "tasks.cancel", "POST", "/api/v1/tasks/{task_id}/cancel", "task.update", "cancel a task",
        _cancel, _load_for_cancel, tags=_TAGS,
    ),
)  # fmt: skip
