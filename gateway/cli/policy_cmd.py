"""`skein policy test | eval`: run the Rego tests, or ask the policy one question.

``test`` compiles ``policies/`` (tests included) with the bundle data from ``bundles/`` and
runs every ``test_*`` rule, like ``opa test``; ``--format`` picks text (failures show the
expression where a test stopped and the input it used), json or junit (for CI). ``eval``
prints the value of ``data.gateway.decision`` (or ``--query``) for an input file, from the
source directories or from a bundle file (``--bundle``; its signature is not checked:
``skein bundle verify`` does that). Exit codes: 0 when all tests pass (or a value was
printed), 1 when a test fails or the policy does not compile, 2 for bad arguments.

``replay`` decides the calls the audit log recorded (``--since``: the last 24h by default)
again with a candidate bundle file, verified like any bundle (``gateway/replay.py``), and
prints a summary and every decision that changed: exit 1 when any changed, 0 when none,
2 for bad arguments or a candidate that is refused, 3 when the audit store is unreachable.

The engine library is imported inside the handlers only, so other commands never load it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import orjson

from gateway.bundle.source import DirectorySource, SourceError
from gateway.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    add_json_flag,
    fail,
    print_json,
    settings_from,
)
from gateway.cli.policy_report import FORMATS, render
from gateway.errors import GatewayError
from gateway.policy.rego_data import bundle_data
from signing import BundleError, read_unverified
from signing.engine import bundle_profiles, policy_inputs
from signing.schema import SchemaError

DECISION_QUERY = "data.gateway.decision"


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    policy = commands.add_parser("policy", help="test and evaluate the Rego policies")
    actions = policy.add_subparsers(dest="policy_command", required=True, metavar="ACTION")

    test = actions.add_parser("test", help="run the test_* rules of policies/*_test.rego (as opa test)")
    _dirs(test)
    test.add_argument(
        "-v", "--verbose", action="store_true", help="text: print every test, not only failures"
    )
    test.add_argument("-k", dest="match", help="only tests whose file::name contains this text")
    test.add_argument("--format", choices=FORMATS, default="text", help="text (default), json or junit")
    test.set_defaults(handler=_test)

    evaluate = actions.add_parser("eval", help="print data.gateway.decision (or --query) for an input")
    _dirs(evaluate)
    evaluate.add_argument("--input", "-i", required=True, help="JSON file with the policy input ('-': stdin)")
    evaluate.add_argument(
        "--bundle", "-b", help="evaluate this bundle file instead of the source directories"
    )
    evaluate.add_argument(
        "--query", "-q", default=DECISION_QUERY, help=f"a document or expression (default: {DECISION_QUERY})"
    )
    evaluate.set_defaults(handler=_eval)

    again = actions.add_parser(
        "replay", help="decide recorded calls again with a candidate bundle; list what changes"
    )
    again.add_argument("--bundle", "-b", required=True, help="the candidate bundle file (.tar.gz, signed)")
    again.add_argument(
        "--since", default="24h", help="age such as 24h or 7d, or an ISO 8601 time (default 24h)"
    )
    again.add_argument("--until", help="age or ISO 8601 time (default: now)")
    again.add_argument("--sub", help="only this caller's calls")
    again.add_argument("--role", help="only calls by callers with this role")
    again.add_argument("--model", help="only calls for this model")
    again.add_argument("--limit", type=int, default=100_000, help="replay at most this many (newest first)")
    add_json_flag(again)
    again.set_defaults(handler=_replay)


def _dirs(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", help="policy directory (default: bundle.policies_dir from settings)")
    parser.add_argument("--bundles", help="profiles and catalog directory (default: bundle.profiles_dir)")


def _source(args: argparse.Namespace) -> DirectorySource:
    settings = settings_from(args)
    policies = Path(args.dir) if args.dir else settings.bundle.policies_dir
    profiles = Path(args.bundles) if args.bundles else settings.bundle.profiles_dir
    return DirectorySource(policies, profiles)


def _test(args: argparse.Namespace) -> int:
    from gateway.policy.rego_tests import RegoTestRunner, read_modules

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
    sys.stdout.write(render(results, args.format, verbose=args.verbose))
    return EXIT_OK if all(r.passed for r in results) else EXIT_FAILED


def _eval(args: argparse.Namespace) -> int:
    from gateway.policy.interpreter import CompiledPolicy, EngineFault

    policy_input = _read_input(args.input)
    try:
        modules, data = _bundle(Path(args.bundle)) if args.bundle else _directory(args)
        values = CompiledPolicy(modules, data).query(args.query, policy_input)
    except (SourceError, SchemaError, GatewayError, BundleError) as exc:
        fail(_message(exc))
    except EngineFault as fault:
        fail(f"the engine failed: {fault.detail}")
    # One value, as `opa eval` prints a document's; several (an expression with variables)
    # as a list; none: undefined, which is printed as nothing and exit 1.
    if not values:
        print(f"{args.query} is undefined for this input", file=sys.stderr)
        return EXIT_FAILED
    value = values[0] if len(values) == 1 else values
    sys.stdout.buffer.write(orjson.dumps(value, option=orjson.OPT_INDENT_2) + b"\n")
    return EXIT_OK


def _replay(args: argparse.Namespace) -> int:
    import asyncio

    from gateway.audit.decisions import DecisionReader
    from gateway.audit.sink import AuditStoreError, AuditStoreUnavailable
    from gateway.bundle.store import BundleError
    from gateway.db.audit_admin import QueryFilter
    from gateway.replay import ReplayReport, load_candidate, replay

    settings = settings_from(args)
    if args.limit < 1:
        fail("--limit must be at least 1", EXIT_USAGE)
    filters = QueryFilter(
        since=_moment(args.since, "--since"),
        until=_moment(args.until, "--until") if args.until else None,
        sub=args.sub,
        role=args.role,
        model=args.model,
        decided=True,
    )
    reader = DecisionReader(settings.audit, settings.audit_db_path)

    async def run() -> ReplayReport:
        bundle = await load_candidate(settings, Path(args.bundle))
        return await replay(bundle, reader.replayable(filters, args.limit))

    try:
        report = asyncio.run(run())
    except BundleError as exc:
        fail(f"candidate {args.bundle} refused [{exc.reason}]: {exc}", EXIT_USAGE)
    except AuditStoreUnavailable as exc:
        fail(str(exc), EXIT_UNAVAILABLE)
    except AuditStoreError as exc:
        fail(str(exc), EXIT_FAILED)
    if args.json:
        print_json(report.as_dict())
    else:
        _print_replay(report)
    return EXIT_FAILED if report.changed else EXIT_OK


def _moment(text: str, option: str) -> float:
    """An age (``24h``: that long ago) or an ISO 8601 time, as unix seconds."""
    import time

    from gateway.audit.export import parse_time
    from gateway.cli.audit_cmd import parse_age

    try:
        return time.time() - parse_age(text)
    except ValueError:
        pass
    try:
        return parse_time(text)
    except ValueError:
        fail(f"{option}: not an age such as 24h or an ISO 8601 time: {text!r}", EXIT_USAGE)


def _print_replay(report: Any) -> None:
    from datetime import UTC, datetime

    print(
        f"replayed {report.replayed} decisions with candidate {report.revision}:"
        f" {report.changed} changed, {report.unchanged} unchanged"
    )
    for kind, count in sorted(report.by_kind.items()):
        print(f"  {kind}: {count}")
    for change in report.changes:
        when = datetime.fromtimestamp(change["ts"], UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        before, after = change["before"], change["after"]
        was = _outcome_text(before)
        now = _outcome_text(after) if after else "engine error"
        what = change["model"] or change["tool"] or change["action"]
        roles = ",".join(change["roles"] or ())
        partial = " (arguments not recorded)" if change["partial"] else ""
        print(
            f"{when} {change['decision_id']} {change['sub']} [{roles}] {what}: {change['kind']}:"
            f" {was} -> {now}{partial}"
        )
    if report.changed > len(report.changes):
        print(f"... and {report.changed - len(report.changes)} more (see --json)")


def _outcome_text(outcome: dict[str, Any]) -> str:
    verdict = "allow" if outcome["allow"] else "deny"
    reasons = ",".join(outcome["reasons"])
    model = f" model={outcome['model']}" if outcome["model"] else ""
    return f"{verdict}{model}" + (f" ({reasons})" if reasons else "")


def _directory(args: argparse.Namespace) -> tuple[dict[str, str], dict[str, Any]]:
    content = _source(args).read()
    return dict(content.policies), bundle_data(content.catalog, content.profiles)


def _bundle(path: Path) -> tuple[dict[str, str], dict[str, Any]]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror}", EXIT_USAGE)
    bundle = read_unverified(raw)
    bundle_profiles(bundle)  # the same validation the gateway applies
    inputs = policy_inputs(bundle)
    return dict(inputs.modules), dict(inputs.data)


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


def _message(exc: Exception) -> str:
    return exc.message if isinstance(exc, GatewayError) else str(exc)
