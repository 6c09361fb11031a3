"""The one module that talks to regorus, the embedded Rego engine.

regorus (microsoft/regorus, a Rust interpreter; the ``gordon-to-regorus`` wheel) is imported
on first use, never at import time: commands that evaluate no policy (``skein bundle
verify``, ``skein keys``...) must not load an engine library at all.

Results come back as Python objects built by the engine's own value conversion, never as
JSON text: a string from the input stays one string whatever it contains (quotes,
backslashes, control characters), so no input can add keys to a decision.

Everything the engine raises while evaluating becomes an :class:`EngineFault`: an error it
reports (a builtin that fails, a conflict between rule outputs) or a Rust panic, which
pyo3 unwinds into ``PanicException`` (a ``BaseException``, so a plain ``except Exception``
would let it through and kill the request task). After a panic the engine's state is not
trusted: :class:`CompiledPolicy` goes back to a fresh clone of the compiled prototype.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import re
import threading
from collections.abc import Mapping
from types import ModuleType
from typing import Any, Literal

from gateway.policy.engine import PolicyCompileError

FaultKind = Literal["error", "panic", "result"]

# regorus formats errors like rustc: "--> file.rego:12:5 | ... error: message".
_LOCATION = re.compile(r"-->\s*([^\s:]+):(\d+):(\d+)")
_MESSAGE = re.compile(r"^error:\s*(.+)$", re.MULTILINE)


class EngineFault(Exception):
    """Evaluation failed inside the engine. ``detail`` names file and line when the engine
    did; it is for logs and policy authors, never for callers of the gateway."""

    def __init__(self, kind: FaultKind, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind: FaultKind = kind
        self.detail = detail


def regorus() -> ModuleType:
    """The engine library, imported on first use."""
    return importlib.import_module("regorus")


class CompiledPolicy:
    """Modules and data compiled once; ``evaluate`` runs one rule for one input.

    Not safe for concurrent use (the engine is one mutable object): callers serialise. Bound
    to the thread that made it: regorus's objects are "unsendable" (pyo3 refuses to use or
    drop them on another thread), so use it where it was made; ``__del__`` sends them back
    to that thread's event loop if the garbage collector frees them elsewhere."""

    def __init__(self, modules: Mapping[str, str], data: Mapping[str, Any]) -> None:
        self._owner = threading.get_ident()
        self._loop = _running_loop()
        engine = regorus().Engine()
        try:
            for name in sorted(modules):
                engine.add_policy(name, modules[name])
            engine.add_data(dict(data))
            # regorus checks the modules as a whole (unsafe or undefined variables) on the
            # first query; a trivial one makes those errors compile errors, here and now.
            engine.eval_query("true")
        except Exception as exc:
            message = f"policy does not compile: {describe(exc)}"
            engine = None  # not kept alive by the traceback (see __del__)
            raise PolicyCompileError(message) from None
        self._prototype = engine
        self._engine = engine.clone()

    def __del__(self) -> None:
        loop = getattr(self, "_loop", None)
        if threading.get_ident() == getattr(self, "_owner", None) or loop is None or loop.is_closed():
            return
        # Freed on another thread (a garbage collection there): hand the engines to the
        # owner's loop inside a list, so this thread never holds the last reference to one;
        # ``box.clear`` drops them there.
        box = [getattr(self, "_prototype", None), getattr(self, "_engine", None)]
        self._prototype = self._engine = None
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nothing to do
            loop.call_soon_threadsafe(box.clear)

    def release(self) -> None:
        """Drop the engines now, on the owner thread (the app's shutdown, on its loop), so the
        garbage collector never meets one later on another thread: dropped there, pyo3 raises
        inside whatever that thread was doing. Evaluating after this is an engine fault."""
        if threading.get_ident() != self._owner:
            raise RuntimeError("CompiledPolicy.release must run on the thread that made it")
        self._prototype = self._engine = None

    def evaluate(self, path: str, policy_input: Any) -> Any:
        """The value of ``path`` (``data.gateway.decision``) for ``policy_input``; None if undefined."""
        try:
            self._engine.set_input(policy_input)
            value = self._engine.eval_rule(path)
        except BaseException as exc:
            raise self._fault(exc) from exc
        return plain(value)

    def query(self, query: str, policy_input: Any) -> list[Any]:
        """The values of a one-expression query (``skein policy eval --query``), one per result."""
        try:
            self._engine.set_input(policy_input)
            results = self._engine.eval_query(query)
        except BaseException as exc:
            raise self._fault(exc) from exc
        return [plain(e["value"]) for r in results.get("result", []) for e in r.get("expressions", [])]

    def run_test(self, path: str, *, coverage: bool = False) -> tuple[Any, dict[str, set[int]]]:
        """``path`` as ``opa test`` runs a test rule: on a fresh engine, with no input at all.

        With ``coverage``, also the lines the engine evaluated, by file (to point at the
        expression where a failing test stopped)."""
        engine = self._prototype.clone()  # a cheap, shared clone: no input, no earlier state
        engine.set_enable_coverage(coverage)
        try:
            value = engine.eval_rule(path)
            covered = _covered(engine.get_coverage_report_as_json()) if coverage else {}
        except BaseException as exc:
            raise self._fault(exc) from exc
        return plain(value), covered

    def _fault(self, exc: BaseException) -> EngineFault:
        if isinstance(exc, Exception):
            kind: FaultKind = "result" if isinstance(exc, TypeError) else "error"
            return EngineFault(kind, describe(exc))
        if type(exc).__name__ == "PanicException":  # pyo3's, not importable by name
            self._engine = self._prototype.clone()
            return EngineFault("panic", f"the engine panicked: {describe(exc)}")
        raise exc  # KeyboardInterrupt, SystemExit, CancelledError: not the engine's business


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _covered(report: str) -> dict[str, set[int]]:
    files = json.loads(report).get("files", [])
    return {f["path"]: set(f.get("covered", [])) for f in files}


def plain(value: Any) -> Any:
    """Rego sets arrive as Python sets: make them sorted lists, as OPA's JSON has them."""
    if isinstance(value, set | frozenset):
        return sorted((plain(v) for v in value), key=_order)
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def _order(value: Any) -> tuple[int, Any]:
    # OPA orders values null < boolean < number < string < array < object < set.
    if value is None:
        return (0, 0)
    if isinstance(value, bool):
        return (1, value)
    if isinstance(value, int | float):
        return (2, value)
    if isinstance(value, str):
        return (3, value)
    return (4, repr(value))


def describe(exc: BaseException) -> str:
    """``file:line:col: message`` from a regorus error (the backtrace and source excerpt dropped)."""
    text = str(exc).split("Stack backtrace:")[0].strip()
    location, message = _LOCATION.search(text), _MESSAGE.search(text)
    if location and message:
        name, line, col = location.groups()
        return f"{name}:{line}:{col}: {message.group(1).strip()}"
    if message:
        return message.group(1).strip()
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1].strip() if lines else type(exc).__name__
