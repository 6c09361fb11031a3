"""The README's quickstart, pasted into a shell in order, does what the README says.

Every ``bash``/``sh``/``python`` block in README.md carries a marker in the HTML comment just
above it (invisible on GitHub), and this test runs the blocks in document order:

    <!-- readme-test: server -->                      started in the background, like the
                                                     terminal the README asks to keep open;
                                                     the test waits for /readyz and stops
                                                     the previous server first
    <!-- readme-test: run; expect: TEXT; expect: TEXT2 -->
                                                     run in "the second terminal": must exit
                                                     0, and its output must contain each TEXT
    <!-- readme-test: skip (why) -->                 not run (say why)

A block without a marker fails the test, so a new example is run as soon as it is added.
"The second terminal" is one shell session: each ``run`` block is a fresh ``bash`` that
starts from the variables the previous blocks exported (``export TOKEN``), and a ``python``
block runs as ``.venv/bin/python`` in that shell. The environment starts clean (no
``SKEIN_*`` variables), as a new user's would.

The blocks run in a scratch copy of the checkout (the Makefile, ``policies/``, ``bundles/``,
``deploy/``; ``.venv`` is the real one, linked), so ``make run`` runs for real and nothing
lands in the working tree. Two changes only: servers listen on a free port (the blocks'
``127.0.0.1:8080`` is rewritten to it) and the guard runs one thread instead of a worker
process per core (SKEIN_GUARD__*), which changes nothing the README shows.

Cost: ~20-40 s (two gateway starts, a dev bundle build and sign, a dozen CLI calls).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.server import REPO, free_port

pytestmark = pytest.mark.e2e

README = REPO / "README.md"
EXECUTABLE = ("bash", "sh", "shell", "console", "python")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.M | re.S)
MARKER = re.compile(r"<!--\s*readme-test:\s*(.*?)\s*-->\s*$", re.S)
READY_SECONDS = 180  # a cold `make run` builds and signs a bundle, then loads the NER model


@dataclass(frozen=True)
class Block:
    line: int
    language: str
    code: str
    kind: str  # run | server | skip
    expect: tuple[str, ...]

    def __str__(self) -> str:
        return f"README.md:{self.line} ({self.language}, {self.kind})"


def readme_blocks(text: str) -> list[Block]:
    """Every executable fenced block with its marker; a missing marker is an error."""
    blocks = []
    for fence in FENCE.finditer(text):
        language = fence.group(1).lower()
        if language not in EXECUTABLE:
            continue
        line = text.count("\n", 0, fence.start()) + 1
        before = text[: fence.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = MARKER.search(before)
        if marker is None:
            raise AssertionError(
                f"README.md:{line}: a {language} block without a <!-- readme-test: ... --> marker"
            )
        kind, *options = [part.strip() for part in marker.group(1).split(";")]
        kind = kind.split()[0]
        assert kind in ("run", "server", "skip"), f"README.md:{line}: unknown readme-test kind {kind!r}"
        expect = tuple(o.removeprefix("expect:").strip() for o in options if o.startswith("expect:"))
        blocks.append(Block(line, language, fence.group(2), kind, expect))
    return blocks


def test_every_executable_block_has_a_marker() -> None:
    blocks = readme_blocks(README.read_text(encoding="utf-8"))
    kinds = [b.kind for b in blocks]
    assert kinds.count("server") >= 2 and kinds.count("run") >= 6, kinds


def test_a_block_without_a_marker_is_an_error() -> None:
    with pytest.raises(AssertionError, match=r"README\.md:3: a bash block without"):
        readme_blocks("# x\n\n```bash\necho hi\n```\n")
    assert readme_blocks("<!-- readme-test: run; expect: hi -->\n```bash\necho hi\n```\n")[0].expect == (
        "hi",
    )


class Checkout:
    """A scratch copy of what the README's commands touch, with the real virtualenv linked."""

    def __init__(self, root: Path) -> None:
        self.root = root
        for name in ("Makefile", "pyproject.toml"):
            shutil.copy2(REPO / name, root / name)
        for name in ("policies", "bundles"):
            shutil.copytree(REPO / name, root / name)
        (root / "deploy").symlink_to(REPO / "deploy")
        venv = root / ".venv"
        venv.mkdir()
        for entry in (REPO / ".venv").iterdir():  # bin, lib, pyvenv.cfg, ...
            if entry.name != ".installed-stamp":
                (venv / entry.name).symlink_to(entry)
        (venv / ".installed-stamp").touch()  # newer than the copied pyproject.toml: no reinstall
        self.exports = root / ".readme-test-env.sh"
        self.exports.write_text("")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("SKEIN_") and k != "TOKEN"}
        self.env |= {"SKEIN_GUARD__EXECUTOR": "thread", "SKEIN_GUARD__WORKERS": "1"}
        self.port = 8080
        self.server: subprocess.Popen[bytes] | None = None
        self.servers = 0

    def on_port(self, code: str) -> str:
        return code.replace("127.0.0.1:8080", f"127.0.0.1:{self.port}").replace(
            "localhost:8080", f"localhost:{self.port}"
        )

    def run(self, block: Block) -> str:
        code = self.on_port(block.code)
        if block.language == "python":
            code = f".venv/bin/python - <<'README_PYTHON'\n{code}\nREADME_PYTHON\n"
        script = f"set -euo pipefail\nsource {self.exports}\n{code}\nexport -p > {self.exports}\n"
        done = subprocess.run(
            ["bash", "-c", script],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
        output = done.stdout + done.stderr
        assert done.returncode == 0, f"{block} exited with {done.returncode}:\n{output}"
        for text in block.expect:
            assert text in output, f"{block}: expected {text!r} in the output:\n{output}"
        return output

    def start(self, block: Block) -> None:
        self.stop()
        self.port, self.servers = free_port(), self.servers + 1
        log = self.root / f"server-{self.servers}.log"
        with log.open("wb") as out:
            self.server = subprocess.Popen(
                ["bash", "-c", block.code],
                cwd=self.root,
                env={**self.env, "SKEIN_SERVER__PORT": str(self.port)},
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group: `make` and the gateway under it
            )
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline:
            assert self.server.poll() is None, f"{block} exited:\n{log.read_text()}"
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"{block} did not become ready:\n{log.read_text()}")

    def stop(self) -> None:
        if self.server is None or self.server.poll() is not None:
            return
        os.killpg(self.server.pid, signal.SIGTERM)  # the group this test started
        try:
            self.server.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.server.pid, signal.SIGKILL)
            self.server.wait(10)


@pytest.fixture()
def checkout(tmp_path: Path) -> Iterator[Checkout]:
    scratch = Checkout(tmp_path)
    try:
        yield scratch
    finally:
        scratch.stop()


def test_the_readme_works_when_pasted_in_order(checkout: Checkout) -> None:
    blocks = readme_blocks(README.read_text(encoding="utf-8"))
    ran = []
    for block in blocks:
        if block.kind == "server":
            checkout.start(block)
        elif block.kind == "run":
            checkout.run(block)
        ran.append(block.kind)
    assert "server" in ran and "run" in ran
