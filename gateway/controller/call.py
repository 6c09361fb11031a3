"""One controller request: a ``Call`` with what the controller stages add to it.

The controller runs on the same ``Pipeline`` and stages as a model call (authenticate,
idempotency, profile, decide, record); ``ControlCall`` carries what only it needs: the
validated request, the caller's row in the org chart, the record the call is about, and what
policy sees of it. ``ControlTrail`` adds the ids of that record to the audit event.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway.audit.event import AuditEvent
from gateway.call import Call
from gateway.db.controller import Person
from gateway.trail import Trail


@dataclass(slots=True)
class ControlTrail(Trail):
    resource: dict[str, Any] = field(default_factory=dict)  # ids and states, never payloads

    def to_event(self, instance_id: str) -> AuditEvent:
        event = Trail.to_event(self, instance_id)  # (slots dataclass: no zero-argument super)
        event.resource = dict(self.resource)
        return event


@dataclass(slots=True)
class ControlCall(Call):
    path_params: Mapping[str, str] = field(default_factory=dict)
    request: Any = None  # the validated body or query (a pydantic model), or the CSV text
    caller: Person | None = None  # the caller's row in the org chart, if it has one
    subject: Any = None  # the record the call is about (a task, an approval, a session)
    resource: dict[str, Any] = field(default_factory=dict)  # ``input.resource`` for policy

    def audit(self, **ids: Any) -> None:
        """Name what the call touched in its audit event (ids and states only)."""
        if isinstance(self.trail, ControlTrail):
            self.trail.resource.update({k: v for k, v in ids.items() if v is not None})

    @property
    def roles(self) -> tuple[str, ...]:
        """The caller's roles that have a profile in the call's bundle."""
        bundle = self.bundle
        assert bundle is not None, "the profile stage runs first"
        return tuple(role for role in self.principal.roles if role in bundle.profiles)
