"""``skein``: the command line. Each command group lives in its own module and registers here."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from gateway.cli import (
    audit_cmd,
    bundle_cmd,
    db_cmd,
    guard_cmd,
    keys_cmd,
    org_cmd,
    policy_cmd,
    serve_cmd,
    task_cmd,
    token_cmd,
)

Registrar = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]

# Order here is the order in `skein --help`.
REGISTRARS: tuple[Registrar, ...] = (
    serve_cmd.register,
    token_cmd.register,
    policy_cmd.register,
    audit_cmd.register,
    bundle_cmd.register,
    keys_cmd.register,
    db_cmd.register,
    guard_cmd.register,
    org_cmd.register,  # org, task, approval: the controller (docs/controller.md)
    task_cmd.register,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="skein", description="Skein policy-as-code gateway")
    parser.add_argument("--config", "-c", help="YAML config file (default: $SKEIN_CONFIG)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in REGISTRARS:
        register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
