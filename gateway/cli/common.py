"""Small helpers every command shares: exit codes, error exits, settings loading, JSON output.

This module is imported by ``skein --help``: it must stay free of heavy imports (the settings
model, pydantic, ...), which happen inside the functions that need them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from gateway.settings import Settings

# Exit codes a script or CI pipeline can rely on (docs/cli.md). The same meaning everywhere.
EXIT_OK = 0
EXIT_FAILED = 1  # the check ran and found a problem (verify failed, tests failed, schema behind)
EXIT_USAGE = 2  # bad arguments or configuration: the message names the option, key or file
EXIT_UNAVAILABLE = 3  # something the command needs cannot be reached (database, server)
EXIT_INTERNAL = 4  # an unexpected error: a bug (`skein --debug ...` shows the traceback)
EXIT_INTERRUPTED = 130  # Ctrl-C


def print_error(message: str) -> None:
    """Every line of ``message`` on stderr, each prefixed so it reads on its own in a log."""
    for line in message.splitlines() or [""]:
        print(f"skein: {line}", file=sys.stderr)


def fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    print_error(message)
    raise SystemExit(code)


def settings_from(args: argparse.Namespace) -> Settings:
    from gateway.settings import SettingsError, load_settings

    config = getattr(args, "config", None)
    try:
        return load_settings(Path(config) if config else None)
    except SettingsError as exc:
        fail(str(exc), EXIT_USAGE)


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable output (JSON) on stdout")


def print_json(value: Any) -> None:
    """One JSON document on stdout (record streams are NDJSON instead: one line each)."""
    import json

    print(json.dumps(value, indent=2, sort_keys=True, default=str))
