"""Idempotency-Key on POST routes: in Redis (every replica) or in memory (one process).

The key is scoped by principal, route and the client's ``Idempotency-Key``; the record
remembers a hash of the request body. ``begin`` (atomic in either store, so two calls cannot
both claim a key):

* unknown key: claimed as *pending* for this call (expires after
  ``idempotency_pending_seconds`` so a crashed replica does not block the key for good);
* same key, different body: 422 ``idempotency_key_reused``;
* pending: 409 ``idempotency_in_flight`` (the first call is still running);
* done: the stored response (status, headers, body, and the request id of the call that
  made it), to replay as it was.

``complete`` stores a finished non-streaming response for ``idempotency_ttl_seconds``;
``release`` gives the key up (a streamed answer, a failure worth retrying) so a retry runs
again. Both act only for the claim's owner: a late call cannot overwrite a newer claim.
The Redis scripts are safe to run twice (the client retries once on a dead connection): a
second ``begin`` by the same owner finds its own claim and still gets it.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from typing import Protocol

import orjson
import redis.asyncio as redis

from gateway.errors import IdempotencyInFlight, IdempotencyKeyReused
from gateway.settings import StateSettings
from gateway.state.budgets import principal_name
from gateway.state.redis_client import STATE_ERRORS, FailurePolicy

_BEGIN = """
local state = redis.call("HGET", KEYS[1], "state")
if not state then
  redis.call("HSET", KEYS[1], "state", "pending", "body", ARGV[1], "owner", ARGV[2])
  redis.call("PEXPIRE", KEYS[1], ARGV[3])
  return {"new"}
end
if redis.call("HGET", KEYS[1], "body") ~= ARGV[1] then return {"mismatch"} end
if state == "pending" then
  if redis.call("HGET", KEYS[1], "owner") == ARGV[2] then return {"new"} end
  return {"pending"}
end
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
    request_id: str = ""  # the call that made it: a replay says so, under its own request id

    def encode(self) -> bytes:
        record = {"status": self.status, "headers": self.headers, "body": self.body.hex()}
        return orjson.dumps({**record, "request_id": self.request_id})

    @classmethod
    def decode(cls, raw: bytes) -> StoredResponse:
        stored = orjson.loads(raw)
        return cls(
            stored["status"], stored["headers"], bytes.fromhex(stored["body"]), stored.get("request_id", "")
        )


@dataclass(frozen=True, slots=True)
class Claim:
    key: str
    owner: str


class Idempotency(Protocol):
    def key(self, tenant: str, sub: str, route: str, idempotency_key: str) -> str: ...

    async def begin(self, key: str, body: bytes) -> Claim | StoredResponse | None:
        """Claim ``key``, or the stored response; None when the store failed open."""
        ...

    async def complete(self, claim: Claim, response: StoredResponse) -> None: ...

    async def release(self, claim: Claim) -> None: ...


def scoped_key(prefix: str, tenant: str, sub: str, route: str, idempotency_key: str) -> str:
    scope = f"{principal_name(tenant, sub)}\n{route}\n{idempotency_key}"
    return prefix + hashlib.sha256(scope.encode()).hexdigest()


def _in_flight() -> IdempotencyInFlight:
    return IdempotencyInFlight(
        "a request with this Idempotency-Key is still in progress", headers={"retry-after": "1"}
    )


def _reused() -> IdempotencyKeyReused:
    return IdempotencyKeyReused("this Idempotency-Key was already used with a different request body")


class RedisIdempotency:
    def __init__(self, client: redis.Redis, settings: StateSettings, policy: FailurePolicy) -> None:
        self._prefix = settings.key_prefix + "idem:"
        self._ttl_ms = settings.idempotency_ttl_seconds * 1000
        self._pending_ms = settings.idempotency_pending_seconds * 1000
        self._policy = policy
        self._begin = client.register_script(_BEGIN)
        self._finish = client.register_script(_FINISH)

    def key(self, tenant: str, sub: str, route: str, idempotency_key: str) -> str:
        return scoped_key(self._prefix, tenant, sub, route, idempotency_key)

    async def begin(self, key: str, body: bytes) -> Claim | StoredResponse | None:
        owner = os.urandom(12).hex()
        digest = hashlib.sha256(body).hexdigest()
        try:
            result = await self._begin(keys=[key], args=[digest, owner, self._pending_ms])
        except STATE_ERRORS as exc:
            self._policy.failed("idempotency", exc)
            return None
        self._policy.ok()
        outcome = result[0].decode()
        if outcome == "new":
            return Claim(key, owner)
        if outcome == "mismatch":
            raise _reused()
        if outcome == "pending":
            raise _in_flight()
        return StoredResponse.decode(result[1])

    async def complete(self, claim: Claim, response: StoredResponse) -> None:
        await self._finish_claim(claim, response.encode())

    async def release(self, claim: Claim) -> None:
        await self._finish_claim(claim, b"")

    async def _finish_claim(self, claim: Claim, record: bytes) -> None:
        try:
            await self._finish(keys=[claim.key], args=[claim.owner, record, self._ttl_ms])
        except STATE_ERRORS as exc:
            # The call is done; the pending claim expires by itself and a retry runs again.
            self._policy.failed_open("idempotency_finish", exc)
            return
        self._policy.ok()


@dataclass(slots=True)
class _Entry:
    body: str
    owner: str
    expires_at: float
    response: StoredResponse | None = None  # None: pending


class MemoryIdempotency:
    """The same contract in one process's memory (the embedded default), swept once a minute.

    Bounded: beyond ``max_entries`` keys the oldest is forgotten (a retry of it runs again).
    """

    def __init__(self, settings: StateSettings, max_entries: int = 100_000) -> None:
        self._max = max_entries
        self._prefix = settings.key_prefix + "idem:"
        self._ttl_s = float(settings.idempotency_ttl_seconds)
        self._pending_s = float(settings.idempotency_pending_seconds)
        self._entries: dict[str, _Entry] = {}
        self._next_sweep = 0.0

    def key(self, tenant: str, sub: str, route: str, idempotency_key: str) -> str:
        return scoped_key(self._prefix, tenant, sub, route, idempotency_key)

    async def begin(self, key: str, body: bytes) -> Claim | StoredResponse | None:
        now = time.monotonic()
        self._sweep(now)
        digest = hashlib.sha256(body).hexdigest()
        entry = self._entries.get(key)
        if entry is None or entry.expires_at <= now:
            if entry is None and len(self._entries) >= self._max:
                del self._entries[next(iter(self._entries))]
            owner = os.urandom(12).hex()
            self._entries[key] = _Entry(digest, owner, now + self._pending_s)
            return Claim(key, owner)
        if entry.body != digest:
            raise _reused()
        if entry.response is None:
            raise _in_flight()
        return entry.response

    async def complete(self, claim: Claim, response: StoredResponse) -> None:
        entry = self._entries.get(claim.key)
        if entry is not None and entry.owner == claim.owner:
            entry.response, entry.expires_at = response, time.monotonic() + self._ttl_s

    async def release(self, claim: Claim) -> None:
        entry = self._entries.get(claim.key)
        if entry is not None and entry.owner == claim.owner:
            del self._entries[claim.key]

    def _sweep(self, now: float) -> None:
        if now < self._next_sweep:
            return
        self._next_sweep = now + 60
        for key in [k for k, e in self._entries.items() if e.expires_at <= now]:
            del self._entries[key]
