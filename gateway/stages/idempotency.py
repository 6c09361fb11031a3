"""``Idempotency-Key``: a retried call gets the first call's answer instead of running again.

Right after the body is read (the key is scoped to the caller and bound to the body), before
anything that costs: a replay is answered at once, without deciding, charging or
forwarding again. On the way out, a finished buffered answer is stored for replay; a stream,
a 5xx or a failure gives the key up so that a retry runs again.
"""

from __future__ import annotations

import re

from gateway.call import Call
from gateway.errors import BadRequest
from gateway.stages.base import Stage
from gateway.state.idempotency import Claim, StoredResponse
from gateway.state.shared import SharedState

_KEY = re.compile(r"[\x21-\x7e]{1,255}")  # visible ASCII: never a control character in a key


class Idempotency(Stage):
    name = "idempotency"

    def __init__(self, state: SharedState) -> None:
        self._state = state

    async def enter(self, call: Call) -> None:
        key = call.headers.get("idempotency-key")
        if key is None:
            return
        if _KEY.fullmatch(key) is None:
            raise BadRequest(
                "Idempotency-Key must be 1 to 255 visible ASCII characters",
                reason="invalid_request",
                details={"field": "Idempotency-Key"},
            )
        store = self._state.idempotency
        principal = call.principal
        found = await store.begin(
            store.key(principal.tenant, principal.sub, call.dialect.path, key), call.raw
        )
        if isinstance(found, StoredResponse):
            call.replay = found
        elif isinstance(found, Claim):
            call.claim = found

    async def leave(self, call: Call) -> None:
        claim, call.claim = call.claim, None
        if claim is None:
            return
        answer = call.answer
        if answer is None or answer.status >= 500:
            await self._state.idempotency.release(claim)
        else:
            # The original request id is kept: a replay names it, under a request id of its own.
            stored = StoredResponse(answer.status, answer.headers, answer.body, call.trail.request_id)
            await self._state.idempotency.complete(claim, stored)
