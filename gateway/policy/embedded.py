"""The embedded engine: Rego compiled once per bundle by regorus, queried in process.

One ``EmbeddedEngine`` belongs to one bundle: the modules and data are compiled when the
engine is made, and each call only sets the input and evaluates ``data.gateway.decision``.
A bundle swap makes a new engine, so a compiled policy (and its decision cache) never
outlives the data it was built from.

A fault inside the engine (an error it reports, a Rust panic) fails that one request closed
with ``503 policy_engine_error`` and is counted (``on_fault``); the process and the next
request are unaffected. What bounds an evaluation: the input's size and depth (below); the
engine offers no time or instruction limit through its Python API, so a policy that is slow
on some input is caught before it serves, by the load-time exercise in a separate process
(``gateway.policy.exercise``), not here. docs/policy-guide.md, "Engine faults", has the rest.

The engine is not safe for concurrent use, so one lock serialises every call, and it is
bound to the thread that made it (regorus's Python objects are "unsendable": used or
dropped on another thread, they raise). So an ``EmbeddedEngine`` is made and used on the
event loop thread: a decision takes a fraction of a millisecond, less than the cost of
handing it to a worker thread (docs/policy-guide.md, "Performance").
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from gateway.domain import Decision
from gateway.errors import Unavailable
from gateway.policy.cache import DecisionCache, cache_key
from gateway.policy.engine import ENTRYPOINT, parse_decision
from gateway.policy.interpreter import CompiledPolicy, EngineFault, FaultKind

log = logging.getLogger("skein.policy")

DECISION_PATH = "data." + ENTRYPOINT.replace("/", ".")  # data.gateway.decision
# An input is a few identifiers and numbers; anything near this is a pipeline bug or an
# attack, and evaluation cost grows with it. Depth is bounded by the JSON encoder (255).
MAX_INPUT_BYTES = 256 * 1024

FaultCounter = Callable[[FaultKind], None]


class EmbeddedEngine:
    """``decide`` for one compiled bundle, with an LRU decision cache in front."""

    def __init__(
        self,
        modules: Mapping[str, str],
        data: Mapping[str, Any],
        *,
        cache_size: int = 4096,
        on_fault: FaultCounter | None = None,
    ) -> None:
        self._policy = CompiledPolicy(modules, data)
        self._lock = threading.Lock()
        self._on_fault = on_fault
        self.cache = DecisionCache(cache_size)

    async def decide(self, policy_input: dict[str, Any]) -> Decision:
        return self.decide_sync(policy_input)

    def decide_sync(self, policy_input: dict[str, Any]) -> Decision:
        key = _checked_key(policy_input)
        with self._lock:
            decision = self.cache.get(key)
            if decision is None:
                decision = parse_decision(self._evaluate(policy_input))
                self.cache.put(key, decision)
        return decision

    def release(self) -> None:
        """Drop the compiled engine (on the loop's thread, at shutdown): see CompiledPolicy.release."""
        with self._lock:
            self._policy.release()

    def evaluate(self, policy_input: dict[str, Any]) -> Any:
        """The raw decision document (no cache): for ``skein policy eval`` and tests."""
        _checked_key(policy_input)
        with self._lock:
            return self._evaluate(policy_input)

    def _evaluate(self, policy_input: dict[str, Any]) -> Any:
        try:
            return self._policy.evaluate(DECISION_PATH, policy_input)
        except EngineFault as fault:
            if self._on_fault is not None:
                self._on_fault(fault.kind)
            log.error("policy engine fault (%s): %s", fault.kind, fault.detail, extra={"fault": fault.kind})
            # The caller learns that the engine failed, not how: the detail is in the log.
            raise Unavailable(
                "the policy engine failed on this request", reason="policy_engine_error"
            ) from fault


def _checked_key(policy_input: dict[str, Any]) -> bytes:
    try:
        key = cache_key(policy_input)
    except TypeError as exc:  # not JSON (or nested too deep): a pipeline bug, and never an allow
        raise Unavailable(f"policy input is not JSON: {exc}", reason="policy_engine_error") from exc
    if len(key) > MAX_INPUT_BYTES:
        raise Unavailable(
            f"policy input is {len(key)} bytes, above the {MAX_INPUT_BYTES} byte bound",
            reason="policy_engine_error",
        )
    return key
