"""``skein`` itself: help, version, lazy command loading, exit codes."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest

from gateway.cli.common import EXIT_INTERNAL, EXIT_OK, EXIT_USAGE
from gateway.cli.main import COMMANDS, build_parser
from tests.cli.conftest import Run
from tests.support.server import REPO

# What a light command must not pay for: the server, the policy engine, the guard, Postgres.
HEAVY = ("uvicorn", "starlette", "aiohttp", "asyncpg", "regopy", "presidio_analyzer", "spacy", "gateway.app")


def imported_by(*argv: str) -> set[str]:
    """The modules a real ``skein ARGS`` process imported (it runs in a fresh interpreter)."""
    probe = (
        "import sys\nfrom gateway.cli.main import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        "print('\\n'.join(sorted(sys.modules)), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, *argv], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    return set(done.stderr.split())


def test_help_lists_every_command_and_the_exit_codes(skein: Run) -> None:
    code, out, _ = skein("--help")
    assert code == EXIT_OK
    for command in COMMANDS:
        assert command.name in out
    assert "2 usage or configuration error" in out.replace("\n", " ")


def test_help_and_light_commands_import_nothing_heavy() -> None:
    for argv in (["--help"], ["--version"], ["audit", "tail", "--db", "/nonexistent/audit.db"]):
        loaded = imported_by(*argv)
        assert "gateway.cli.main" in loaded  # the probe ran
        assert not [m for m in HEAVY if m in loaded], (argv, [m for m in HEAVY if m in loaded])
    assert "pydantic" not in imported_by("--help")


def test_version(skein: Run) -> None:
    code, out, _ = skein("--version")
    assert code == EXIT_OK and out.startswith("skein ")


def test_a_command_help_comes_from_its_module(skein: Run) -> None:
    code, out, _ = skein("token", "--help")
    assert code == EXIT_OK and "--role ROLE" in out and "--force" in out


def test_the_table_matches_what_the_modules_register() -> None:
    parser = build_parser()
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    registered = {c.dest: c.help for c in actions[0]._choices_actions}
    assert registered == {c.name: c.help for c in COMMANDS}


def test_an_unknown_command_is_a_usage_error(skein: Run) -> None:
    code, _, err = skein("tokn")
    assert code == EXIT_USAGE and "invalid choice: 'tokn'" in err


def test_an_unexpected_error_is_one_line_and_exit_4_and_debug_shows_the_traceback(
    skein: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gateway.cli import config_cmd

    def broken(args: argparse.Namespace) -> int:
        raise RuntimeError("a bug")

    monkeypatch.setattr(config_cmd, "_schema", broken)  # a stand-in for any handler with a bug
    code, _, err = skein("config", "schema")
    assert code == EXIT_INTERNAL
    assert err.splitlines() == [
        "skein: internal error: RuntimeError: a bug (run `skein --debug ...` for the traceback)"
    ]
    code, _, err = skein("--debug", "config", "schema")
    assert code == EXIT_INTERNAL and "Traceback" in err and "RuntimeError: a bug" in err


def test_config_check_json_parses(skein: Run) -> None:
    code, out, _ = skein("config", "check", str(REPO / "deploy" / "skein.example.yaml"), "--no-env", "--json")
    report = json.loads(out)
    assert set(report) == {"file", "ok", "errors", "warnings"}
    assert code == (EXIT_OK if report["ok"] else 1)
