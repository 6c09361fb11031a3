"""``skein``: the command line. Each command group lives in its own module and registers here.

Start-up time matters for a command people type (and scripts call) all day, so nothing heavy
is imported before it is needed: ``skein --help`` and the first parse use only the table
below, and a command's module (with whatever it imports) is imported only when that command
runs. Command modules keep their heavy imports inside the functions that need them.

Exit codes (docs/cli.md): 0 ok, 1 a check ran and failed, 2 usage or configuration error,
3 a service or file the command needs is unavailable, 4 internal error (a bug: ``--debug``
shows the traceback), 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from gateway.cli.common import EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, print_error

Registrar = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]


class Command:
    """A command's name and help for ``skein --help``, and the module that implements it.

    (A plain class: ``dataclasses`` alone costs ~15 ms of import on every ``skein`` call.)"""

    __slots__ = ("help", "module", "name")

    def __init__(self, name: str, help: str, module: str) -> None:
        self.name = name
        self.help = help
        self.module = module  # under gateway.cli; imported only when this command runs


# Order here is the order in `skein --help`. A module may register several commands (token
# and apikey); the help text must match what the module registers (tests/cli checks it).
COMMANDS: tuple[Command, ...] = (
    Command("serve", "run the gateway", "serve_cmd"),
    Command("token", "mint a dev token (dev mode only)", "token_cmd"),
    Command("apikey", "service-account API keys", "token_cmd"),
    Command("config", "check a config file, print its JSON schema, import a LiteLLM config", "config_cmd"),
    Command("policy", "test and evaluate the Rego policies", "policy_cmd"),
    Command("audit", "verify, export and read the audit log", "audit_cmd"),
    Command("bundle", "build, sign, verify and inspect policy bundles", "bundle_cmd"),
    Command("keys", "generate bundle-signing keys", "keys_cmd"),
    Command("db", "migrate the Postgres schema (audit, state)", "db_cmd"),
    Command("guard", "PII guard tools", "guard_cmd"),
    Command("org", "the org chart the controller resolves approvers with", "org_cmd"),
    Command("task", "list, show and cancel controller tasks", "task_cmd"),
    Command("approval", "list, show, approve and reject approvals", "task_cmd"),
)


class _Version(argparse.Action):
    """``--version``, looked up only when asked (reading package metadata costs time)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, help="print the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            number = version("skein")
        except PackageNotFoundError:  # running from a source tree that was never installed
            number = "unknown"
        print(f"skein {number}")
        parser.exit(EXIT_OK)


def _top_level() -> tuple[argparse.ArgumentParser, argparse._SubParsersAction[argparse.ArgumentParser]]:
    parser = argparse.ArgumentParser(
        prog="skein",
        description="Skein policy-as-code gateway",
        epilog="exit codes: 0 ok, 1 check failed, 2 usage or configuration error, 3 unavailable, "
        "4 internal error (see docs/cli.md)",
    )
    parser.add_argument("--config", "-c", help="YAML config file (default: $SKEIN_CONFIG)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for unexpected errors")
    parser.add_argument("--version", action=_Version)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    return parser, commands


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The full parser (every command module imported), or only the one ``command`` needs."""
    parser, commands = _top_level()
    modules = dict.fromkeys(c.module for c in COMMANDS if command is None or c.name == command)
    for module in modules:
        registrar: Registrar = importlib.import_module(f"gateway.cli.{module}").register
        registrar(commands)
    return parser


def _chosen_command(argv: Sequence[str] | None) -> str:
    """Find the command with a parser that knows only the names: ``skein --help``, ``--version``
    and a mistyped command are answered here without importing any command module."""
    parser, commands = _top_level()
    for command in COMMANDS:
        # No options of its own: everything after the name is parsed in the second pass.
        commands.add_parser(command.name, help=command.help, add_help=False)
    args, _ = parser.parse_known_args(argv)
    name: str = args.command
    return name


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser(_chosen_command(argv)).parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # `skein audit export | head`: the reader left; that is not an error. Point stdout at
        # /dev/null so the interpreter's final flush does not complain either.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:
        return _unexpected(exc, debug=args.debug)


def _unexpected(exc: Exception, *, debug: bool) -> int:
    from gateway.settings import SettingsError  # already imported if it is one

    if isinstance(exc, SettingsError):
        print_error(str(exc))
        return EXIT_USAGE
    if debug:
        import traceback

        traceback.print_exc()
    else:
        print_error(
            f"internal error: {type(exc).__name__}: {exc} (run `skein --debug ...` for the traceback)"
        )
    return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
