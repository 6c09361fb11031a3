"""The stages only controller calls have, between the shared ones::

    authenticate -> read -> idempotency -> profile -> locate -> decide -> (the operation)

* **read** after authenticate (an unknown caller's body is never read): the path ids, the
  query string and the body, validated into the operation's model (400 naming the field).
* **idempotency** right after: a retried create is answered from the store before it is
  decided or done again. The key is scoped to the caller and the operation and bound to the
  *validated* request, so a retry through the other door (HTTP or the agent mesh) with the
  same content replays too.
* **locate** after the profile stage: the caller's row in the org chart and the record the
  call is about (404 when it is not in the caller's tenant), which policy needs to decide.
* **decide**: ``data.gateway.decision`` for the operation's action, with the record in
  ``input.resource``; a refusal is a 403 with the policy's reasons.
"""

from __future__ import annotations

import re
import time
from typing import Any, Protocol

import orjson

from gateway.call import Call
from gateway.controller.call import ControlCall
from gateway.controller.models import RECORD_ID, ROLE, validated
from gateway.controller.operation import Operation
from gateway.controller.service import Service
from gateway.dialects.fields import parse_object
from gateway.errors import BadRequest, Forbidden, NotFound, Reason, UnsupportedMedia
from gateway.stages.base import Stage
from gateway.stages.body import check_content_type
from gateway.stages.decide import refusal
from gateway.state.idempotency import Claim, StoredResponse
from gateway.trail import new_id

_KEY = re.compile(r"[\x21-\x7e]{1,255}")  # as for model calls: visible ASCII only
_PATH_PATTERNS = {"role": re.compile(ROLE)}
_RECORD_ID = re.compile(RECORD_ID)


def control(call: Call) -> ControlCall:
    assert isinstance(call, ControlCall), "controller stages run on controller calls"
    return call


class ReadRequest(Stage):
    name = "read"

    def __init__(self, operation: Operation, max_bytes: int) -> None:
        self._op = operation
        self._max_bytes = max_bytes

    async def enter(self, call: Call) -> None:
        ctl = control(call)
        for name, value in ctl.path_params.items():
            pattern = _PATH_PATTERNS.get(name, _RECORD_ID)
            if pattern.fullmatch(value) is None:
                raise NotFound(f"no {name.removesuffix('_id')} {value[:64]!r}")
        op, body_model = self._op, self._op.body
        if op.query is not None:
            ctl.request = validated(op.query, ctl.params)
        elif ctl.params and op.method == "GET":
            unknown = next(iter(ctl.params))
            raise BadRequest(f"{unknown}: unknown query parameter", details={"field": unknown})
        if body_model is None and not op.csv_body:
            return
        ctl.raw = await ctl.read_body(self._max_bytes)
        if op.csv_body:
            ctl.request = _csv_text(ctl.headers.get("content-type"), ctl.raw)
            return
        check_content_type(ctl.headers.get("content-type"))
        ctl.body = parse_object(ctl.raw) if ctl.raw.strip() else {}
        assert body_model is not None
        ctl.request = validated(body_model, ctl.body)


def _csv_text(content_type: str | None, raw: bytes) -> str:
    media = (content_type or "text/csv").split(";", 1)[0].strip().lower()
    if media not in ("text/csv", "text/plain"):
        raise UnsupportedMedia(f"expected Content-Type text/csv, got {media[:64]!r}")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"the CSV is not UTF-8 (byte {exc.start})", details={"field": "body"}) from exc


class IdempotencyStore(Protocol):
    """gateway/state/idempotency.py's store (Redis, or in memory): the part this stage uses."""

    def key(self, tenant: str, sub: str, route: str, idempotency_key: str) -> str: ...
    async def begin(self, key: str, body: bytes) -> Claim | StoredResponse | None: ...
    async def complete(self, claim: Claim, response: StoredResponse) -> None: ...
    async def release(self, claim: Claim) -> None: ...


class ControlIdempotency(Stage):
    name = "idempotency"

    def __init__(self, store: IdempotencyStore | None, scope: str) -> None:
        self._store = store
        self._scope = scope  # the operation: one key may name a task and a session apart

    async def enter(self, call: Call) -> None:
        ctl = control(call)
        key = ctl.headers.get("idempotency-key")
        if key is None or self._store is None:
            return
        if _KEY.fullmatch(key) is None:
            raise BadRequest(
                "Idempotency-Key must be 1 to 255 visible ASCII characters",
                details={"field": "Idempotency-Key"},
            )
        principal = ctl.principal
        request = ctl.request.model_dump(mode="json") if ctl.request is not None else {}
        found = await self._store.begin(
            self._store.key(principal.tenant, principal.sub, self._scope, key),
            orjson.dumps(request, option=orjson.OPT_SORT_KEYS),
        )
        if isinstance(found, StoredResponse):
            ctl.replay = found
        elif isinstance(found, Claim):
            ctl.claim = found

    async def leave(self, call: Call) -> None:
        claim, call.claim = call.claim, None
        if claim is None or self._store is None:
            return
        answer = call.answer
        if answer is None or answer.status >= 500:
            await self._store.release(claim)
        else:
            stored = StoredResponse(answer.status, answer.headers, answer.body, call.trail.request_id)
            await self._store.complete(claim, stored)


class Locate(Stage):
    name = "locate"

    def __init__(self, service: Service, operation: Operation) -> None:
        self._service = service
        self._op = operation

    async def enter(self, call: Call) -> None:
        ctl = control(call)
        ctl.caller = await self._service.person_of(ctl.principal)
        await self._op.load(self._service, ctl)


class Authorize(Stage):
    """Policy for a controller action; the record's fields are in ``input.resource``."""

    name = "decide"

    def __init__(self, action: str) -> None:
        self._action = action

    async def enter(self, call: Call) -> None:
        ctl = control(call)
        bundle = ctl.bundle
        assert bundle is not None, "the profile stage runs first"
        decision = await bundle.engine.decide(self.policy_input(ctl))
        ctl.trail.decision, ctl.trail.decision_id = decision, new_id()
        if not decision.allow:
            raise refusal(decision)

    def policy_input(self, call: ControlCall) -> dict[str, Any]:
        principal = {**call.principal.policy_view(), "user_id": call.caller.user_id if call.caller else None}
        return {
            "principal": principal,
            "action": self._action,
            "resource": call.resource,
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }


class ToolAllowed(Stage):
    """For calls through the agent mesh: the caller's roles must be allowed the mesh tool
    (``tools.call`` for ``agent_mesh__<tool>``), as the MCP gateway requires at its door."""

    name = "tool"

    def __init__(self, server: str, tool: str) -> None:
        self._resource = {"server": server, "tool": tool}

    async def enter(self, call: Call) -> None:
        ctl = control(call)
        bundle = ctl.bundle
        assert bundle is not None, "the profile stage runs first"
        policy_input = {
            "principal": ctl.principal.policy_view(),
            "action": "tools.call",
            "resource": self._resource,
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        decision = await bundle.engine.decide(policy_input)
        if not decision.allow:
            ctl.trail.decision, ctl.trail.decision_id = decision, new_id()
            raise refusal(decision)
        if decision.approval_required:
            tool = f"{self._resource['server']}__{self._resource['tool']}"
            message = f"{tool} needs an approval: call it through the MCP gateway"
            raise Forbidden(
                message, reason="approval_required", reasons=[Reason("approval_required", message)]
            )
