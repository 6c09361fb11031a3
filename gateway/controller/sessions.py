"""Agent sessions and their state machine::

    pending -> active -> paused -> active -> completed | failed
    pending | active | paused -> expired        (also by itself, when its time is up)

Every change is a compare-and-set on the state the caller saw; anything else, or a change
that lost a race, is a 409 naming the state the session is in.
"""

from __future__ import annotations

from gateway.controller.call import ControlCall
from gateway.controller.errors import Conflict
from gateway.controller.models import SessionCreate, SessionUpdate
from gateway.controller.operation import Operation, Reply
from gateway.controller.service import Service
from gateway.controller.views import session_view
from gateway.db.controller import Session
from gateway.errors import BadRequest, NotFound
from gateway.trail import new_id

TRANSITIONS: dict[str, frozenset[str]] = {
    "pending": frozenset({"active", "expired"}),
    "active": frozenset({"paused", "completed", "failed", "expired"}),
    "paused": frozenset({"active", "expired"}),
    "completed": frozenset(),
    "failed": frozenset(),
    "expired": frozenset(),
}
_TAGS = ("sessions",)


async def _new(service: Service, call: ControlCall) -> None:
    call.resource = {"kind": "session", "sub": call.principal.sub}


async def _create(service: Service, call: ControlCall) -> Reply:
    request: SessionCreate = call.request
    limit = service.settings.max_session_ttl_seconds
    if request.ttl_seconds is not None and request.ttl_seconds > limit:
        raise BadRequest(f"ttl_seconds: at most {limit}", details={"field": "ttl_seconds"})
    now = service.now()
    ttl = request.ttl_seconds or service.settings.session_ttl_seconds
    session = Session(
        new_id(), call.principal.tenant, call.principal.sub, request.data, now, now + ttl, "pending", now
    )
    await service.use(lambda s: s.put_session(session))
    call.audit(session_id=session.id, state=session.state)
    return Reply(201, session_view(session), {"location": f"/api/v1/sessions/{session.id}"})


async def load_session(service: Service, call: ControlCall) -> None:
    session_id = call.path_params["session_id"]
    session = await service.use(lambda s: s.find_session(session_id))
    if session is None or session.tenant != call.principal.tenant:
        raise NotFound(f"no session {session_id}")
    now = service.now()
    if session.expires_at <= now and "expired" in TRANSITIONS[session.state]:
        seen = session.state
        expired = await service.use(lambda s: s.set_session_state(session_id, seen, "expired", now))
        session = expired or await service.use(lambda s: s.find_session(session_id)) or session
    call.subject = session
    call.resource = {"kind": "session", "id": session.id, "sub": session.sub, "state": session.state}
    call.audit(session_id=session.id, state=session.state)


async def _load_for_update(service: Service, call: ControlCall) -> None:
    await load_session(service, call)
    request: SessionUpdate = call.request
    call.resource["to_state"] = request.state


async def _get(service: Service, call: ControlCall) -> Reply:
    return Reply(200, session_view(call.subject))


async def _update(service: Service, call: ControlCall) -> Reply:
    session: Session = call.subject
    target = call.request.state
    if target not in TRANSITIONS[session.state]:
        message = f"session {session.id} is {session.state}: it cannot become {target}"
        raise Conflict(message, reason="invalid_transition", current=session.state)
    changed = await service.use(
        lambda s: s.set_session_state(session.id, session.state, target, service.now())
    )
    if changed is None:
        now = await service.use(lambda s: s.find_session(session.id))
        current = now.state if now else "deleted"
        raise Conflict(f"session {session.id} is now {current}", reason="session_conflict", current=current)
    call.audit(state=changed.state)
    return Reply(200, session_view(changed))


OPERATIONS = (
    Operation(
        "sessions.create", "POST", "/api/v1/sessions", "session.create", "start a session (pending)",
        _create, _new, body=SessionCreate, idempotent=True, success=201, tags=_TAGS,
    ),
    Operation(
        "sessions.get", "GET", "/api/v1/sessions/{session_id}", "session.read", "read a session",
        _get, load_session, tags=_TAGS,
    ),
    Operation(
        "sessions.update", "PATCH", "/api/v1/sessions/{session_id}", "session.update",
        "move a session to another state (409 when the state machine does not allow it)",
        _update, _load_for_update, body=SessionUpdate, tags=_TAGS,
    ),
)  # fmt: skip
