"""Small helpers every command shares: settings loading and error exits."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import NoReturn

from gateway.settings import Settings, SettingsError, load_settings

# Exit codes a CI pipeline can rely on.
EXIT_OK = 0
EXIT_FAILED = 1  # the check ran and found a problem (verify failed, tests failed)
EXIT_USAGE = 2  # bad arguments or configuration


def fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    print(f"skein: {message}", file=sys.stderr)
    raise SystemExit(code)


def settings_from(args: argparse.Namespace) -> Settings:
    config = getattr(args, "config", None)
    try:
        return load_settings(Path(config) if config else None)
    except SettingsError as exc:
        fail(str(exc), EXIT_USAGE)
