"""CLI tests run ``skein`` in-process through ``main()`` (cheap) or as a real process when the
exit code and stderr of the whole program are the point (start-up through uvicorn)."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from gateway.cli.main import main

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No SKEIN_* variable of the developer's shell leaks into the settings under test."""
    for name in list(os.environ):
        if name.startswith("SKEIN_"):
            monkeypatch.delenv(name)


@pytest.fixture()
def skein(capsys: pytest.CaptureFixture[str]) -> Run:
    """``skein ARGS...`` in-process: (exit code, stdout, stderr)."""

    def run(*argv: str) -> tuple[int, str, str]:
        try:
            code = main(list(argv))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        out = capsys.readouterr()
        return code, out.out, out.err

    return run
