"""The embedded engine: Rego compiled once per bundle by regopy (rego-cpp), queried in process.

One ``EmbeddedEngine`` belongs to one bundle: the modules and data are compiled into a
regopy ``Bundle`` with the single entry point ``gateway/decision`` when the engine is made,
and each call only sets the input and runs that plan. A bundle swap makes a new engine, so
a compiled plan (and its decision cache) never outlives the data it was built from.

The interpreter is not safe for concurrent use, so one lock serialises every call. Calls
stay on the event loop thread: a decision takes well under a millisecond, less than the
cost of handing it to a worker thread (see docs/policy-guide.md, "Performance").
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from typing import Any

from regopy import Bundle, Input, Interpreter, LogLevel, RegoError

from gateway.domain import Decision
from gateway.errors import Unavailable
from gateway.policy.cache import DecisionCache, cache_key
from gateway.policy.engine import ENTRYPOINT, PolicyCompileError, parse_decision
from gateway.policy.rego_data import rego_json

# rego-cpp reports errors as an s-expression: (error 9:file.rego|offset|length (errormsg N:text)
_ERROR = re.compile(r"\(error \d+:([^|]*)\|(\d+)\|\d+\s*\(errormsg \d+:([^)]*)\)")


class EmbeddedEngine:
    """``decide`` for one compiled bundle, with an LRU decision cache in front."""

    def __init__(
        self, modules: Mapping[str, str], data: Mapping[str, Any], *, cache_size: int = 4096
    ) -> None:
        self._interpreter, self._bundle = compile_policy(modules, data, [ENTRYPOINT])
        self._lock = threading.Lock()
        self.cache = DecisionCache(cache_size)

    async def decide(self, policy_input: dict[str, Any]) -> Decision:
        return self.decide_sync(policy_input)

    def decide_sync(self, policy_input: dict[str, Any]) -> Decision:
        try:
            key = cache_key(policy_input)
        except TypeError as exc:  # not JSON: a pipeline bug, and never an allow
            raise Unavailable(f"policy input is not JSON: {exc}", reason="policy_engine_error") from exc
        with self._lock:
            decision = self.cache.get(key)
            if decision is None:
                decision = parse_decision(self._evaluate(ENTRYPOINT, policy_input))
                self.cache.put(key, decision)
        return decision

    def evaluate(self, policy_input: dict[str, Any]) -> Any:
        """The raw decision document (no cache): for ``skein policy eval`` and tests."""
        with self._lock:
            return self._evaluate(ENTRYPOINT, policy_input)

    def _evaluate(self, entrypoint: str, policy_input: dict[str, Any]) -> Any:
        return query(self._interpreter, self._bundle, entrypoint, policy_input)


def compile_policy(
    modules: Mapping[str, str], data: Mapping[str, Any], entrypoints: list[str]
) -> tuple[Interpreter, Bundle]:
    """Compile modules + data into a plan for ``entrypoints``; errors name file and line."""
    interpreter = Interpreter()
    interpreter.log_level = LogLevel.NONE  # rego-cpp would print errors on stdout; we raise them
    try:
        for name in sorted(modules):
            interpreter.add_module(name, modules[name])
        interpreter.add_data_json(rego_json(data))
        bundle = interpreter.build(None, entrypoints)
    except RegoError as exc:
        raise PolicyCompileError(f"policy does not compile: {describe_error(exc, modules)}") from exc
    if not bundle.ok():
        raise PolicyCompileError("policy does not compile (rego-cpp gave no details)")
    return interpreter, bundle


def query(interpreter: Interpreter, bundle: Bundle, entrypoint: str, policy_input: Any) -> Any:
    """Run one entry point; the document's value, or None when it is undefined."""
    try:
        interpreter.set_input(Input(policy_input))
        output = interpreter.query_bundle_entrypoint(bundle, entrypoint)
    except (RegoError, TypeError, ValueError) as exc:
        raise Unavailable(f"policy engine error: {exc}", reason="policy_engine_error") from exc
    if not output.ok():
        raise Unavailable(f"policy engine error: {_first_line(str(output))}", reason="policy_engine_error")
    if not output.results or not output.results[0].expressions:
        return None
    return output.results[0].expressions[0]


def describe_error(exc: Exception, modules: Mapping[str, str]) -> str:
    """``file:line:col: message`` for each error rego-cpp reported (deduplicated)."""
    found: list[str] = []
    for name, offset, message in _ERROR.findall(str(exc)):
        source = modules.get(name, "")
        before = source[: int(offset)]
        line, col = before.count("\n") + 1, int(offset) - (before.rfind("\n") + 1) + 1
        text = f"{name}:{line}:{col}: {message}" if name in modules else f"{name or '?'}: {message}"
        if text not in found:
            found.append(text)
    return "; ".join(found) if found else _first_line(str(exc))


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "unknown error"
