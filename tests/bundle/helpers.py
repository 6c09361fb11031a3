"""Real signed bundles and a real HTTP bundle server, for the gateway's bundle tests."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

from signing import PrivateKey, build_bundle, generate_key, load_private_key, public_pem, sign_bundle

REPO = Path(__file__).resolve().parents[2]
KID = "test"

# A rule a policy author might add: freeze one model for everyone.
FREEZE_RULE = """
deny contains reason("model_frozen", "gpt-4o-mini is frozen") if {
	is_model_action
	requested_model == "gpt-4o-mini"
}
"""


@dataclass
class Workspace:
    """A copy of the policy sources plus a signing key, as a policy author has them."""

    root: Path
    key: PrivateKey = field(default_factory=lambda: load_private_key(generate_key("ES256")[0]))

    @property
    def policies(self) -> Path:
        return self.root / "policies"

    @property
    def data(self) -> Path:
        return self.root / "bundles"

    @property
    def bundle(self) -> Path:
        return self.root / "bundle.tar.gz"

    def write_public_key(self) -> Path:
        path = self.root / "keys" / "test.pub.pem"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(public_pem(self.key.public_key()))
        return path

    def build(self, revision: str | None = None, *, signed: bool = True) -> bytes:
        raw = build_bundle(self.policies, self.data, revision=revision)
        return sign_bundle(raw, self.key, KID) if signed else raw

    def publish(self, revision: str | None = None, *, signed: bool = True) -> bytes:
        """Build (and sign) into ``bundle``, replacing it atomically as the CLI does."""
        data = self.build(revision, signed=signed)
        temp = self.bundle.with_suffix(".tmp")
        temp.write_bytes(data)
        temp.replace(self.bundle)
        return data

    def quiet_finance(self) -> None:
        """No guard and no rate limit for finance: load tests then measure the bundle swap,
        not NER throughput on a busy machine (the guard has its own tests)."""
        path = self.data / "profiles" / "finance.yaml"
        profile = yaml.safe_load(path.read_text())
        profile["privacy"] = {"mode": "off"}
        profile["rate_limits"] = {"requests_per_minute": 1_000_000, "tokens_per_minute": 1_000_000_000}
        path.write_text(yaml.safe_dump(profile))

    def freeze_model(self) -> None:
        with (self.policies / "models.rego").open("a") as rego:
            rego.write(FREEZE_RULE)


def workspace(tmp: Path) -> Workspace:
    shutil.copytree(REPO / "policies", tmp / "policies")
    shutil.copytree(REPO / "bundles", tmp / "bundles")
    return Workspace(tmp)


def flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


@dataclass
class BundleServer:
    """Serves ``body`` at /bundle.tar.gz with an ETag; answers If-None-Match with 304."""

    body: bytes = b""
    etag: str = '"0"'
    requests: list[tuple[str, int]] = field(default_factory=list)  # (path, status)
    _version: int = 0
    _port: int = 0

    def publish(self, body: bytes) -> None:
        self._version += 1
        self.body, self.etag = body, f'"{self._version}"'

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}/bundle.tar.gz"

    @contextmanager
    def running(self) -> Iterator[BundleServer]:
        server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._port = server.server_address[1]
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        state = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path != "/bundle.tar.gz":
                    self._answer(404, b"")
                elif self.headers.get("If-None-Match") == state.etag:
                    self._answer(304, b"")
                else:
                    self._answer(200, state.body)

            def _answer(self, status: int, body: bytes) -> None:
                state.requests.append((self.path, status))
                self.send_response(status)
                self.send_header("ETag", state.etag)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler
