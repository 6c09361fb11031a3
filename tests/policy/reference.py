"""The engines the policy tests compare: the embedded one, and OPA itself as the reference.

The reference is OPA's own Go engine (v1.20) loaded as a library through the
``opa-golib-python-bindings`` wheel (installed by ``make setup``; its metadata asks for
Python 3.14, but it is a ctypes wrapper that loads on any 3.x). It is what ``opa eval``
would answer, without an ``opa`` binary. When ``OPA_URL`` names a running OPA server, the
remote engine is compared too (tests/policy/test_remote.py, and the conformance corpus).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import httpx
import pytest

from gateway.policy.interpreter import CompiledPolicy, EngineFault

UNDEFINED = object()
OPA_URL = os.environ.get("OPA_URL")  # tests may read the environment; the gateway may not


class EngineError(Exception):
    """The engine refused the query (an error where a value was expected)."""


def opa_bindings() -> Any:
    try:
        import opa_bindings as module  # type: ignore[import-not-found]
    except ImportError:  # a setup problem, not a reason to skip: the parity is the point
        pytest.fail(
            "the reference OPA is not installed: run `make setup` (it installs "
            "opa-golib-python-bindings, see docs/policy-guide.md)"
        )
    return module


class ReferenceOpa:
    """OPA's Go engine for one set of modules and data; ``evaluate`` like ``opa eval``."""

    def __init__(self, modules: Mapping[str, str], data: Mapping[str, Any]) -> None:
        self._engine = opa_bindings().OpaEngine()
        self._engine.print_handler = lambda *_: None
        for name, source in modules.items():
            self._engine.add_policy(name, source)
        if data:
            self._engine.add_data(dict(data))

    def evaluate(self, path: str, policy_input: Any = None) -> Any:
        bindings = opa_bindings()
        try:
            return self._engine.eval_document(path.removeprefix("data."), policy_input)
        except bindings.OpaUndefinedError:
            return UNDEFINED
        except bindings.OpaError as exc:
            raise EngineError(str(exc)) from exc


class Embedded:
    def __init__(self, modules: Mapping[str, str], data: Mapping[str, Any]) -> None:
        self._policy = CompiledPolicy(modules, data)

    def evaluate(self, path: str, policy_input: Any = None) -> Any:
        # A query, not evaluate(): it tells an undefined document (no result) from null.
        try:
            values = self._policy.query(path, {} if policy_input is None else policy_input)
        except EngineFault as fault:
            raise EngineError(fault.detail) from fault
        return values[0] if values else UNDEFINED


class RemoteOpa:
    """A running OPA server (``OPA_URL``): modules and data are uploaded under a prefix."""

    def __init__(self, modules: Mapping[str, str], data: Mapping[str, Any]) -> None:
        assert OPA_URL is not None
        self._http = httpx.Client(base_url=OPA_URL.rstrip("/"), timeout=10)
        for name, source in modules.items():
            response = self._http.put(f"/v1/policies/skein-test/{name}", content=source.encode())
            if response.status_code != 200:
                raise EngineError(response.text)
        for key, value in data.items():
            self._http.put(f"/v1/data/{key}", json=value).raise_for_status()

    def evaluate(self, path: str, policy_input: Any = None) -> Any:
        route = "/v1/data/" + path.removeprefix("data.").replace(".", "/")
        response = self._http.post(route, json={"input": policy_input})
        if response.status_code != 200:
            raise EngineError(response.text)
        body = response.json()
        return body.get("result", UNDEFINED)
