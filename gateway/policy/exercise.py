"""Exercise a bundle's policy in a separate process before it may serve.

Compiling proves little: an engine can compile a policy and then crash, hang or fail on
the first request that reaches a rule. So before a bundle is swapped in, a child process
(``python -m gateway.policy.exercise``) compiles it, runs the bundle's own ``*_test.rego``
tests and decides every input of the smoke corpus (``gateway.policy.smoke``). The bundle
is refused, with a reason code and the step that failed, when:

* it does not compile (``policy_compile_error``), calls a builtin the engine lacks
  (``unsupported_builtin``, checked before the child starts);
* the engine fails on one of its tests (``policy_test_error``); a test that is merely false
  is reported (``ExerciseReport.failed``, logged), not refused: it says the bundle's
  expectations and its data disagree, which ``skein policy test`` is there to show;
* an input gets an engine error or panic (``policy_engine_fault``), or an undefined or
  malformed decision (``policy_decision_malformed``);
* the child dies, say the engine aborts (``policy_engine_crash``), or spends more than the
  timeout in CPU time (``policy_engine_timeout``).

The timeout is CPU time, enforced by the kernel (``RLIMIT_CPU``), not wall time: a policy that
spins is stopped after the same amount of work on a quiet or a saturated machine, and a busy
host cannot make a good bundle look like a hanging one. A generous wall-clock limit stays as a
backstop for a child that blocks without spinning.

The child reports each step on stdout before it runs it, so a crash or a hang names the
test or input that caused it. Its address space is capped (``CHILD_MEMORY_BYTES``), so a
policy that allocates without bound fails there, not in the gateway.
"""

from __future__ import annotations

import resource
import signal
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from gateway.errors import Unavailable
from gateway.policy.embedded import DECISION_PATH
from gateway.policy.engine import parse_decision
from gateway.policy.interpreter import EngineFault
from gateway.policy.rego_tests import RegoTestRunner
from gateway.policy.smoke import smoke_inputs

DEFAULT_TIMEOUT_SECONDS = 30.0  # CPU seconds: the sample bundle needs about one
CHILD_MEMORY_BYTES = 2 * 1024**3
_WALL_FACTOR = 20  # the wall-clock backstop: CPU timeout x this, at least a minute
_ROOT = Path(__file__).resolve().parents[2]  # where `-m gateway...` resolves from


class ExerciseError(Exception):
    """The bundle was refused; ``reason`` is a stable code, the message says where."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ExerciseReport:
    tests: int
    inputs: int
    failed: tuple[str, ...] = ()  # tests that were false or undefined (ids)


def exercise(
    modules: Mapping[str, str],
    tests: Mapping[str, str],
    data: Mapping[str, Any],
    *,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> ExerciseReport:
    """Run the bundle in a child process; raise ``ExerciseError`` when it must not serve."""
    # Imported here: the signing package costs the child a second of imports it never uses.
    from signing.builtins import check_builtins

    check_builtins({**modules, **tests})
    payload = orjson.dumps({"modules": modules, "tests": tests, "data": data})
    command = [sys.executable, "-m", "gateway.policy.exercise", str(max(1, round(timeout)))]
    wall = max(60.0, timeout * _WALL_FACTOR)
    try:
        done = subprocess.run(command, input=payload, capture_output=True, timeout=wall, cwd=_ROOT)
    except subprocess.TimeoutExpired as exc:
        raise _timeout(f"{wall:g} s", exc.stdout) from exc
    if done.returncode in (-signal.SIGXCPU, -signal.SIGKILL):  # the kernel's CPU limit
        raise _timeout(f"{timeout:g} s of CPU time", done.stdout)
    if done.returncode != 0:
        raise ExerciseError(
            "policy_engine_crash",
            f"the policy engine {_death(done.returncode)} at {_last_step(done.stdout)}",
        )
    result = _result(done.stdout)
    if not result.get("ok"):
        raise ExerciseError(str(result.get("reason")), str(result.get("message")))
    return ExerciseReport(int(result["tests"]), int(result["inputs"]), tuple(result["failed"]))


def _timeout(limit: str, stdout: bytes | str | None) -> ExerciseError:
    return ExerciseError(
        "policy_engine_timeout", f"the policy did not finish within {limit}, at {_last_step(stdout)}"
    )


def _death(code: int) -> str:
    if code < 0:
        try:
            return f"crashed ({signal.Signals(-code).name})"
        except ValueError:
            return f"crashed (signal {-code})"
    return f"exited with status {code}"


def _lines(stdout: bytes | str | None) -> list[str]:
    text = stdout.decode("utf-8", "replace") if isinstance(stdout, bytes) else stdout or ""
    return text.splitlines()


def _last_step(stdout: bytes | str | None) -> str:
    steps = [line.removeprefix("step ") for line in _lines(stdout) if line.startswith("step ")]
    return steps[-1] if steps else "start-up"


def _result(stdout: bytes) -> dict[str, Any]:
    for line in reversed(_lines(stdout)):
        if line.startswith("result "):
            value = orjson.loads(line.removeprefix("result "))
            if isinstance(value, dict):
                return value
    raise ExerciseError("policy_engine_crash", "the policy check ended without a result")


# -- the child --------------------------------------------------------------------------------


def _step(text: str) -> None:
    sys.stdout.write(f"step {text}\n")
    sys.stdout.flush()


def _run(payload: Mapping[str, Any]) -> dict[str, Any]:
    modules, tests, data = payload["modules"], payload["tests"], payload["data"]
    _step("compile")
    try:
        runner = RegoTestRunner({**modules, **tests}, data)
    except Unavailable as exc:
        return _refused("policy_compile_error", exc.message)
    failed = []
    for test in runner.tests:
        _step(f"test {test.id}")
        outcome = runner.run(test)
        if outcome.outcome == "error":
            return _refused("policy_test_error", f"test {test.id}: the engine failed: {outcome.error}")
        if outcome.outcome == "fail":
            failed.append(test.id)
    inputs = smoke_inputs(data)
    for index, policy_input in enumerate(inputs):
        shown = orjson.dumps(policy_input).decode()[:300]
        _step(f"input {index} {shown}")
        try:
            parse_decision(runner.policy.evaluate(DECISION_PATH, policy_input))
        except EngineFault as fault:
            return _refused("policy_engine_fault", f"engine {fault.kind} on input {shown}: {fault.detail}")
        except Unavailable as exc:
            return _refused("policy_decision_malformed", f"{exc.message}, for input {shown}")
    return {"ok": True, "tests": len(runner.tests), "failed": failed, "inputs": len(inputs)}


def _refused(reason: str, message: str) -> dict[str, Any]:
    return {"ok": False, "reason": reason, "message": message}


def _cap(limit: int, value: int) -> None:
    """Lower a resource limit of this process to ``value`` (never raise it)."""
    soft, hard = resource.getrlimit(limit)
    cap = value if hard == resource.RLIM_INFINITY else min(value, hard)
    if soft == resource.RLIM_INFINITY or soft > cap:
        resource.setrlimit(limit, (cap, hard))


def main() -> int:
    _cap(resource.RLIMIT_AS, CHILD_MEMORY_BYTES)
    if len(sys.argv) > 1:
        _cap(resource.RLIMIT_CPU, int(sys.argv[1]))  # SIGXCPU once spent: a policy that spins
    result = _run(orjson.loads(sys.stdin.buffer.read()))
    sys.stdout.write("result " + orjson.dumps(result).decode() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
