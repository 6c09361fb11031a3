"""A fake Ollama server: the real ``ollama`` client talks HTTP to it (a test double for an
LLM provider; a real Ollama is used instead when OLLAMA_HOST is set, see test_ollama.py).

``/api/generate`` answers, as JSON, every word of ``names`` that occurs in the prompt.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeOllama:
    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names
        self.prompts: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body: dict[str, Any] = json.loads(self.rfile.read(int(self.headers["content-length"])))
                prompt = str(body.get("prompt", ""))
                owner.prompts.append(prompt)
                entities = [{"type": "PERSON", "text": n} for n in owner.names if n in prompt]
                answer = {
                    "model": body.get("model", ""),
                    "created_at": "2026-01-01T00:00:00Z",
                    "response": json.dumps({"entities": entities}),
                    "done": True,
                }
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeOllama:
        threading.Thread(target=self._server.serve_forever, daemon=True, name="fake-ollama").start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
