"""What one controller operation is: its route, its policy action, how it finds the record it
is about, and what it does. The pipeline around it (``wiring.py``) is the same for all."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel

from gateway.controller.call import ControlCall
from gateway.controller.service import Service


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


Load = Callable[[Service, ControlCall], Awaitable[None]]
Run = Callable[[Service, ControlCall], Awaitable[Reply]]


@dataclass(frozen=True, slots=True)
class Operation:
    id: str  # "tasks.create": the OpenAPI operationId, the idempotency scope
    method: Literal["GET", "POST", "PATCH"]
    path: str  # "/api/v1/tasks/{task_id}"
    action: str  # the policy action: task.send, approval.decide, ...
    summary: str
    run: Run
    load: Load  # finds the record (404) and sets ``call.resource`` for policy
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    csv_body: bool = False  # the body is text/csv (the org chart)
    idempotent: bool = False  # honours Idempotency-Key
    success: int = 200
    tags: tuple[str, ...] = ()
