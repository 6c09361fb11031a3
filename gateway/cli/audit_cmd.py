"""`skein audit verify | export | tail | query | prune`: check, export, search and prune the audit log.

Exit codes: 0 when the command did its job (``verify``: the log is intact), 1 when ``verify``
found a problem (it lists every missing range, then the first other problem) or the log
cannot be read, 2 for bad arguments or configuration, 3 when the
Postgres audit store cannot be reached. The store modules are imported by the commands that
use them (``audit tail`` on SQLite never loads the Postgres driver).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar
from urllib.parse import urlsplit, urlunsplit

import orjson

from gateway.audit.export import ExportFilter, export_ndjson, open_log, parse_status, parse_time, recent
from gateway.audit.sink import AuditStoreError, AuditStoreUnavailable
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

if TYPE_CHECKING:
    from gateway.settings import Settings

Handler = Callable[[argparse.Namespace], int]
T = TypeVar("T")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    audit = commands.add_parser("audit", help="verify, export and read the audit log")
    actions = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")

    verify = _action(actions, "verify", "check the hash chain: nothing edited, deleted or reordered", _verify)
    add_json_flag(verify)

    export = _action(actions, "export", "write records as NDJSON (stdout by default)", _export)
    export.add_argument("--since", help="ISO 8601 date/time, inclusive (UTC unless a zone is given)")
    export.add_argument("--until", help="ISO 8601 date/time, exclusive")
    export.add_argument("--sub", help="only this principal")
    export.add_argument("--decision", choices=("allow", "deny"), help="only allowed or denied calls")
    export.add_argument("--status", help="only calls answered with this HTTP status (403) or class (4xx)")
    export.add_argument("--out", "-o", help="output file (default: stdout)")

    tail = _action(actions, "tail", "show the most recent decisions", _tail)
    tail.add_argument("-n", type=int, default=20, help="how many records (default: 20)")
    tail.add_argument("--json", action="store_true", help="print records as NDJSON")

    found = _action(actions, "query", "search decisions, newest first (SQLite or Postgres)", _query)
    for flag, help_text in (
        ("--since", "ISO 8601 date/time, inclusive"),
        ("--until", "ISO 8601 date/time, exclusive"),
        ("--sub", "only this principal"),
        ("--role", "only callers with this role"),
        ("--reason", "only this main reason code"),
        ("--model", "only this model (served, else requested)"),
        ("--tool", "only messages naming this MCP tool"),
        ("--decision-id", "the call with this decision id (x-skein-decision-id)"),
    ):
        found.add_argument(flag, help=help_text)
    found.add_argument("--decision", choices=("allow", "deny"))
    found.add_argument("--status", help="only calls answered with this HTTP status (403) or class (4xx)")
    found.add_argument("--limit", type=int, default=50, help="records per page (default: 50)")
    found.add_argument("--before", type=int, help="page: the cursor printed by the previous page")
    found.add_argument("--json", action="store_true", help="print records as NDJSON")

    prune = _action(actions, "prune", "delete old records, keeping each chain verifiable", _prune)
    prune.add_argument("--older-than", required=True, help="age such as 90d, 12h (records before now-age)")


def _action(
    actions: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help_text: str, handler: Handler
) -> argparse.ArgumentParser:
    parser = actions.add_parser(name, help=help_text)
    parser.add_argument("--db", help="audit SQLite file (default: from settings, <state_dir>/audit.db)")
    parser.add_argument("--dsn", help="read the Postgres audit store at this DSN instead of SQLite")
    parser.add_argument("--schema", help="Postgres schema (default: audit.postgres_schema)")
    parser.set_defaults(handler=handler)
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    """The settings, loaded once per command (several helpers ask)."""
    if getattr(args, "settings", None) is None:
        args.settings = settings_from(args)
    settings: Settings = args.settings
    return settings


def _db_path(args: argparse.Namespace) -> Path:
    return Path(args.db) if args.db else _settings(args).audit_db_path


def _postgres(args: argparse.Namespace) -> tuple[str, str] | None:
    """The Postgres DSN and schema when this command reads Postgres, else None (SQLite).

    ``--dsn`` picks Postgres; without ``--db`` or ``--dsn`` the configured sink decides.
    """
    if args.db:
        return None
    if args.dsn:
        return args.dsn, args.schema or _settings(args).audit.postgres_schema
    audit = _settings(args).audit
    if audit.sink == "postgres" and audit.postgres_dsn:
        return audit.postgres_dsn, args.schema or audit.postgres_schema
    return None


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run one Postgres step (asyncio is imported only by the commands that read Postgres)."""
    import asyncio

    return asyncio.run(coro)


@contextmanager
def _store_errors() -> Iterator[None]:
    """Store failures as exits: 3 when Postgres cannot be reached, else 1."""
    try:
        yield
    except AuditStoreUnavailable as exc:
        fail(str(exc), EXIT_UNAVAILABLE)
    except AuditStoreError as exc:
        fail(str(exc))


def _verify(args: argparse.Namespace) -> int:
    pg = _postgres(args)
    with _store_errors():
        if pg:
            from gateway.db.audit_read import verify_postgres

            report = _run(verify_postgres(*pg))
        else:
            from gateway.audit.verify import verify_sqlite

            report = verify_sqlite(_db_path(args))
    where = _redact(pg[0]) if pg else str(_db_path(args))
    if args.json:
        print_json(
            {
                "ok": report.ok,
                "store": where,
                "records": report.records,
                "chains": [
                    {
                        "instance_id": c.instance_id,
                        "records": c.records,
                        "head_seq": c.head.seq,
                        "head_hash": c.head.hash,
                    }
                    for c in report.chains
                ],
                "problem": None
                if report.problem is None
                else {
                    "instance_id": report.problem.instance_id,
                    "seq": report.problem.seq,
                    "kind": report.problem.kind,
                    "detail": report.problem.detail,
                },
                # Every missing range (deleted records, a cut tail), not only the first.
                "missing": [
                    {"instance_id": g.instance_id, "first": g.seq, "last": g.last, "kind": g.kind}
                    for g in report.gaps
                ],
            }
        )
        return EXIT_OK if report.ok else EXIT_FAILED
    if report.ok:
        print(f"{report.summary()} [{where}]")
        return EXIT_OK
    print(report.summary(), file=sys.stderr)
    return EXIT_FAILED


def _export(args: argparse.Namespace) -> int:
    try:
        low, high = parse_status(args.status) if args.status else (None, None)
        filters = ExportFilter(
            since=parse_time(args.since) if args.since else None,
            until=parse_time(args.until) if args.until else None,
            sub=args.sub,
            decision=args.decision,
            status_min=low,
            status_max=high,
        )
    except ValueError as exc:
        fail(str(exc), EXIT_USAGE)
    try:
        if args.out:
            with open(args.out, "wb") as out:
                count = _export_to(args, out, filters)
            print(f"exported {count} records to {args.out}", file=sys.stderr)
        else:
            _export_to(args, _stdout(), filters)
    except AuditStoreUnavailable as exc:
        fail(str(exc), EXIT_UNAVAILABLE)
    except AuditStoreError as exc:
        fail(str(exc))
    except BrokenPipeError:  # `skein audit export | head` is fine
        return EXIT_OK
    return EXIT_OK


def _export_to(args: argparse.Namespace, out: BinaryIO, filters: ExportFilter) -> int:
    pg = _postgres(args)
    if pg:
        from gateway.db.audit_read import export_postgres

        return _run(export_postgres(*pg, out, filters))
    with closing(open_log(_db_path(args))) as conn:
        return export_ndjson(conn, out, filters)


def _redact(dsn: str) -> str:
    """The DSN without a password, for output."""
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


def _stdout() -> BinaryIO:
    return sys.stdout.buffer


def _tail(args: argparse.Namespace) -> int:
    if args.n <= 0:
        fail("-n must be positive", EXIT_USAGE)
    pg = _postgres(args)
    with _store_errors():
        if pg:
            from gateway.db.audit_read import recent_postgres

            events = _run(recent_postgres(*pg, args.n))
        else:
            with closing(open_log(_db_path(args))) as conn:
                events = recent(conn, args.n)
    for event in events:
        print(orjson.dumps(event).decode() if args.json else format_line(event))
    return EXIT_OK


def _query(args: argparse.Namespace) -> int:
    from gateway.db.audit_admin import QueryFilter

    pg = _postgres(args)
    if args.limit <= 0:
        fail("--limit must be positive", EXIT_USAGE)
    try:
        low, high = parse_status(args.status) if args.status else (None, None)
        filters = QueryFilter(
            since=parse_time(args.since) if args.since else None,
            until=parse_time(args.until) if args.until else None,
            sub=args.sub,
            role=args.role,
            decision=args.decision,
            reason=args.reason,
            model=args.model,
            tool=args.tool,
            decision_id=args.decision_id,
            status_min=low,
            status_max=high,
            before=args.before,
        )
    except ValueError as exc:
        fail(str(exc), EXIT_USAGE)
    with _store_errors():
        if pg is not None:
            from gateway.db.audit_admin import query_postgres

            page = _run(query_postgres(*pg, filters, args.limit))
        else:
            from gateway.audit.query import query_sqlite

            page = query_sqlite(_db_path(args), filters, args.limit)
    for event in page.events:
        print(orjson.dumps(event).decode() if args.json else format_line(event))
    if page.next_before is not None:
        print(f"more: --before {page.next_before}", file=sys.stderr)
    return EXIT_OK


def _prune(args: argparse.Namespace) -> int:
    pg = _postgres(args)
    try:
        cutoff = time.time() - parse_age(args.older_than)
    except ValueError as exc:
        fail(str(exc), EXIT_USAGE)
    with _store_errors():
        if pg is not None:
            from gateway.db.audit_admin import prune_postgres

            removed = _run(prune_postgres(*pg, cutoff))
        else:
            from gateway.audit.query import prune_sqlite

            removed = prune_sqlite(_db_path(args), cutoff)
    for instance_id, count in sorted(removed.items()):
        print(f"chain {instance_id}: pruned {count} records (anchor kept for verify)")
    print(f"pruned {sum(removed.values())} records older than {args.older_than}")
    return EXIT_OK


def parse_age(text: str) -> float:
    """``90d``, ``12h``, ``30m`` or ``45s`` to seconds."""
    units = {"d": 86400, "h": 3600, "m": 60, "s": 1}
    number, unit = text[:-1], text[-1:]
    if unit not in units or not number.isdigit():
        raise ValueError(f"not an age such as 90d or 12h: {text!r}")
    return int(number) * units[unit]


def format_line(event: dict[str, Any]) -> str:
    """One human-readable line: when, outcome, who, what, which model, how long, why."""
    when = datetime.fromtimestamp(event["ts"], UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    outcome = "allow" if event.get("allow") else "deny "
    who = f"{event.get('sub') or '-'} [{','.join(event.get('roles') or ()) or '-'}]"
    model = event.get("requested_model") or "-"
    served = event.get("served_model")
    if served and served != model:
        model = f"{model} -> {served}"
    total = (event.get("latency_ms") or {}).get("total")
    took = f"{total:.0f}ms" if isinstance(total, int | float) else "-"
    reasons = ",".join(event.get("reasons") or ()) or "-"
    return (
        f"{when}  {outcome} {event.get('status', 0):>3}  {who:<24} {event.get('action', '-'):<12} "
        f"{model:<28} {took:>7}  {reasons}  #{event.get('seq', '?')}"
    )
