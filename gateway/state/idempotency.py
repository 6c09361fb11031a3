"""Idempotency-Key on POST routes, shared by every replica.

The key is scoped by principal, route and the client's ``Idempotency-Key``; the record
remembers a hash of the request body. ``begin`` (one Lua script, so two replicas cannot
both claim a key):

* unknown key: claimed as *pending* for this call (expires after
  ``idempotency_pending_seconds`` so a crashed replica does not block the key for good);
* same key, different body: 422 ``idempotency_key_reused``;
* pending: 409 ``idempotency_in_flight`` (the first call is still running);
* done: the stored response, replayed as it was (status, headers, body).

``complete`` stores a finished non-streaming response for ``idempotency_ttl_seconds``;
``release`` gives the key up (a streamed answer, a failure worth retrying) so a retry runs
again. Both act only for the claim's owner: a late call cannot overwrite a newer claim.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

import orjson
import redis.asyncio as redis

from gateway.errors import IdempotencyInFlight, IdempotencyKeyReused
from gateway.settings import StateSettings
from gateway.state.budgets import principal_name
from gateway.state.redis_client import STATE_ERRORS, FailurePolicy, log

_BEGIN = """
local state = redis.call("HGET", KEYS[1], "state")
if not state then
  redis.call("HSET", KEYS[1], "state", "pending", "body", ARGV[1], "owner", ARGV[2])
  redis.call("PEXPIRE", KEYS[1], ARGV[3])
  return {"new"}
end
if redis.call("HGET", KEYS[1], "body") ~= ARGV[1] then return {"mismatch"} end
if state == "pending" then return {"pending"} end
return {"done", redis.call("HGET", KEYS[1], "response")}
"""
_FINISH = """
if redis.call("HGET", KEYS[1], "owner") ~= ARGV[1] then return 0 end
if ARGV[2] == "" then return redis.call("DEL", KEYS[1]) end
redis.call("HSET", KEYS[1], "state", "done", "response", ARGV[2])
redis.call("PEXPIRE", KEYS[1], ARGV[3])
return 1
"""


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class Claim:
    key: str
    owner: str


class RedisIdempotency:
    def __init__(self, client: redis.Redis, settings: StateSettings, policy: FailurePolicy) -> None:
        self._prefix = settings.key_prefix + "idem:"
        self._ttl_ms = settings.idempotency_ttl_seconds * 1000
        self._pending_ms = settings.idempotency_pending_seconds * 1000
        self._policy = policy
        self._begin = client.register_script(_BEGIN)
        self._finish = client.register_script(_FINISH)

    def key(self, tenant: str, sub: str, route: str, idempotency_key: str) -> str:
        scope = f"{principal_name(tenant, sub)}\n{route}\n{idempotency_key}"
        return self._prefix + hashlib.sha256(scope.encode()).hexdigest()

    async def begin(self, key: str, body: bytes) -> Claim | StoredResponse | None:
        """Claim ``key`` (a ``Claim``), or the stored response; None when Redis failed open."""
        owner = os.urandom(12).hex()
        digest = hashlib.sha256(body).hexdigest()
        try:
            result = await self._begin(keys=[key], args=[digest, owner, self._pending_ms])
        except STATE_ERRORS as exc:
            self._policy.failed("idempotency", exc)
            return None
        outcome = result[0].decode()
        if outcome == "new":
            return Claim(key, owner)
        if outcome == "mismatch":
            raise IdempotencyKeyReused("this Idempotency-Key was already used with a different request body")
        if outcome == "pending":
            raise IdempotencyInFlight(
                "a request with this Idempotency-Key is still in progress", headers={"retry-after": "1"}
            )
        stored = orjson.loads(result[1])
        return StoredResponse(stored["status"], stored["headers"], bytes.fromhex(stored["body"]))

    async def complete(self, claim: Claim, response: StoredResponse) -> None:
        record = {"status": response.status, "headers": response.headers, "body": response.body.hex()}
        await self._finish_claim(claim, orjson.dumps(record))

    async def release(self, claim: Claim) -> None:
        await self._finish_claim(claim, b"")

    async def _finish_claim(self, claim: Claim, record: bytes) -> None:
        try:
            await self._finish(keys=[claim.key], args=[claim.owner, record, self._ttl_ms])
        except STATE_ERRORS as exc:
            # The call is done; the pending claim expires by itself and a retry runs again.
            self._policy.failures["idempotency_finish"] += 1
            log.warning("idempotency record not stored; the claim expires by itself: %r", exc)
