"""What callers send the controller: request bodies and query strings, validated at the edge.

Bodies are strict (no unknown fields, no type coercion: ``"5"`` is not a number); query
strings are text, so their numbers are parsed. A failure is a 400 whose ``param`` names the
field (``payload``, ``limit``...), never the validator's internal text alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal, TypeVar

import orjson
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from gateway.errors import BadRequest

ROLE = r"^[a-z][a-z0-9_-]{0,63}$"
RECORD_ID = r"^[0-9a-f]{24}$"  # the ids the controller mints (12 random bytes, hex)
TASK_TYPE = r"^[a-z][a-z0-9_.-]{0,63}$"
SUBJECT = r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,127}$"
MAX_PAYLOAD_BYTES = 64 * 1024
MAX_PAYLOAD_DEPTH = 16
MAX_PAGE = 200

TaskStatus = Literal["pending", "in_progress", "done", "failed", "cancelled"]
ApprovalStatus = Literal["pending", "approved", "rejected", "expired", "used"]
SessionState = Literal["pending", "active", "paused", "completed", "failed", "expired"]
Priority = Literal["low", "normal", "high", "urgent"]


def _depth(value: Any, level: int = 0) -> int:
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level + 1)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level + 1)
    return level


def check_document(value: dict[str, Any]) -> dict[str, Any]:
    """A JSON object a caller stores (payload, result, data): bounded in size and depth."""
    if _depth(value) > MAX_PAYLOAD_DEPTH:
        raise ValueError(f"nests deeper than {MAX_PAYLOAD_DEPTH} levels")
    if len(orjson.dumps(value)) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"is larger than {MAX_PAYLOAD_BYTES} bytes as JSON")
    return value


Document = Annotated[dict[str, Any], AfterValidator(check_document)]
M = TypeVar("M", bound=BaseModel)


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Query(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    after: str | None = Field(
        None, pattern=RECORD_ID, description="the id of the last record of the previous page"
    )
    limit: int = Field(50, ge=1, le=MAX_PAGE)


class TaskCreate(Body):
    target_role: str = Field(pattern=ROLE, description="the role whose inbox gets the task")
    task_type: str = Field("task", pattern=TASK_TYPE, description="e.g. budget_approval")
    title: str = Field(min_length=1, max_length=200)
    payload: Document = Field(default_factory=dict)


class TaskUpdate(Body):
    status: Literal["in_progress", "done", "failed", "cancelled"]
    expected_status: TaskStatus | None = Field(
        None, description="compare-and-set: change the task only if it is still in this status"
    )
    result: Document | None = None


class TaskList(Query):
    to_role: str | None = Field(None, pattern=ROLE)
    # It reaches policy: no control characters (the engines' JSON refuses them).
    created_by: str | None = Field(None, pattern=r"^[^\x00-\x1f\x7f]{1,256}$")
    status: TaskStatus | None = None
    task_type: str | None = Field(None, pattern=TASK_TYPE)


class ApprovalCreate(Body):
    task_id: str | None = Field(None, pattern=RECORD_ID)
    subject: str | None = Field(None, pattern=SUBJECT, description="what needs approving (default: the task)")
    reason: str = Field(min_length=1, max_length=2000)
    payload: Document = Field(default_factory=dict)

    @model_validator(mode="after")
    def _about_something(self) -> ApprovalCreate:
        if self.task_id is None and self.subject is None:
            raise ValueError("task_id or subject is required")
        return self


class ApprovalDecision(Body):
    comment: str | None = Field(None, max_length=2000)


class ApprovalList(Query):
    status: ApprovalStatus = "pending"


class SessionCreate(Body):
    data: Document = Field(default_factory=dict)
    ttl_seconds: int | None = Field(None, gt=0, description="lifetime (default and maximum: configured)")


class SessionUpdate(Body):
    state: SessionState


class NotificationCreate(Body):
    target_role: str = Field(pattern=ROLE)
    message: str = Field(min_length=1, max_length=4000)
    priority: Priority = "normal"


class NotificationList(Query):
    pass


def validated(model: type[M], data: Mapping[str, Any]) -> M:
    """``model`` from ``data``, or a 400 naming the first field that is wrong."""
    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or None
        message = first["msg"].removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            message = "unknown field"
        where = f"{field}: " if field else ""
        raise BadRequest(f"{where}{message}", reason="invalid_request", details={"field": field}) from exc
