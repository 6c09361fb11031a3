"""Every ``skein`` command line in docs/runbook.md's code blocks parses with the real CLI parser.

A renamed subcommand or option then fails here instead of in the middle of an incident.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from gateway.cli.main import build_parser

RUNBOOK = Path(__file__).resolve().parents[2] / "docs" / "runbook.md"
_BLOCK = re.compile(r"^[ \t]*```[a-z]*\n(.*?)^[ \t]*```", re.M | re.S)
_SHELL_BREAK = re.compile(r"\s(?:\||>|&&|;|2>)\s?")


def command_lines(markdown: str) -> list[str]:
    """``skein ...`` invocations (continuation lines joined; pipes, redirects, comments cut)."""
    found = []
    for block in _BLOCK.findall(markdown):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.strip()
            if " -- skein " in line:  # kubectl exec ... -- skein ...
                line = "skein " + line.split(" -- skein ", 1)[1]
            if line.startswith("skein "):
                found.append(_SHELL_BREAK.split(line, 1)[0].strip())
    return found


COMMANDS = command_lines(RUNBOOK.read_text(encoding="utf-8"))


def test_the_runbook_has_commands() -> None:
    assert len(COMMANDS) >= 12
    assert {c.split()[1] for c in COMMANDS} >= {"keys", "bundle", "audit", "db"}


@pytest.mark.parametrize("line", COMMANDS)
def test_runbook_command_parses(line: str) -> None:
    argv = shlex.split(line, comments=True)[1:]
    try:
        build_parser().parse_args(argv)
    except SystemExit as exc:
        pytest.fail(f"`{line}` is not a valid skein command (exit {exc.code})")


def test_a_wrong_command_is_caught() -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["bundle", "sign", "b.tar.gz", "--keyid", "x"])
