"""`skein policy test | eval`: run the Rego tests, or ask the policy one question.

``test`` compiles ``policies/`` (tests included) with the bundle data from ``bundles/`` and
runs every ``test_*`` rule; ``eval`` prints the decision for an input file. Exit codes: 0
when all tests pass (or a decision was printed), 1 when a test fails or the policy does not
compile, 2 for bad arguments or configuration.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import orjson

from gateway.bundle.source import DirectorySource, SourceError
from gateway.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, fail, settings_from
from gateway.errors import GatewayError
from gateway.policy.embedded import EmbeddedEngine
from gateway.policy.rego_data import bundle_data
from gateway.policy.rego_tests import RegoTestResult, RegoTestRunner, read_modules
from signing.schema import SchemaError


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    policy = commands.add_parser("policy", help="test and evaluate the Rego policies")
    actions = policy.add_subparsers(dest="policy_command", required=True, metavar="ACTION")

    test = actions.add_parser("test", help="run the test_* rules of policies/*_test.rego")
    _dirs(test)
    test.add_argument("-v", "--verbose", action="store_true", help="print every test, not only failures")
    test.add_argument("-k", dest="match", help="only tests whose file::name contains this text")
    test.set_defaults(handler=_test)

    evaluate = actions.add_parser("eval", help="print data.gateway.decision for an input")
    _dirs(evaluate)
    evaluate.add_argument("--input", "-i", required=True, help="JSON file with the policy input ('-': stdin)")
    evaluate.set_defaults(handler=_eval)


def _dirs(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", help="policy directory (default: bundle.policies_dir from settings)")
    parser.add_argument("--bundles", help="profiles and catalog directory (default: bundle.profiles_dir)")


def _source(args: argparse.Namespace) -> DirectorySource:
    settings = settings_from(args)
    policies = Path(args.dir) if args.dir else settings.bundle.policies_dir
    profiles = Path(args.bundles) if args.bundles else settings.bundle.profiles_dir
    return DirectorySource(policies, profiles)


def _test(args: argparse.Namespace) -> int:
    source = _source(args)
    try:
        content = source.read()
        runner = RegoTestRunner(
            read_modules(source.policies_dir), bundle_data(content.catalog, content.profiles)
        )
    except (SourceError, SchemaError, GatewayError) as exc:
        fail(_message(exc))
    if not runner.tests:
        fail(f"no test_* rules found in {source.policies_dir}/**/*_test.rego")
    results = runner.run_all(args.match)
    for result in results:
        if args.verbose or not result.passed:
            print(_line(result))
    failed = sum(not r.passed for r in results)
    seconds = sum(r.seconds for r in results)
    print(f"{len(results) - failed} passed, {failed} failed ({len(results)} tests, {seconds * 1000:.1f} ms)")
    return EXIT_FAILED if failed else EXIT_OK


def _eval(args: argparse.Namespace) -> int:
    policy_input = _read_input(args.input)
    try:
        content = _source(args).read()
        engine = EmbeddedEngine(
            content.policies, bundle_data(content.catalog, content.profiles), cache_size=0
        )
        decision = engine.evaluate(policy_input)
    except (SourceError, SchemaError, GatewayError) as exc:
        fail(_message(exc))
    sys.stdout.buffer.write(orjson.dumps(decision, option=orjson.OPT_INDENT_2) + b"\n")
    return EXIT_OK


def _read_input(name: str) -> dict[str, Any]:
    try:
        raw = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
        value = orjson.loads(raw)
    except OSError as exc:
        fail(f"cannot read {name}: {exc.strerror}", EXIT_USAGE)
    except orjson.JSONDecodeError as exc:
        fail(f"{name} is not valid JSON: {exc}", EXIT_USAGE)
    if not isinstance(value, dict):
        fail(f"{name} must hold a JSON object (the policy input)", EXIT_USAGE)
    return value


def _line(result: RegoTestResult) -> str:
    status = "PASS" if result.passed else ("ERROR" if result.error else "FAIL")
    detail = f": {result.error}" if result.error else ""
    return f"{status} {result.test.id} ({result.seconds * 1000:.2f} ms){detail}"


def _message(exc: Exception) -> str:
    return exc.message if isinstance(exc, GatewayError) else str(exc)
