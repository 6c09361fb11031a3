"""Client and upstream for the image test, standard library only: it runs beside the gateway,
inside the container (its python, its network namespace) or as a plain process.

    probe.py ready URL                      print /readyz's status and body as JSON; exit 1 when
                                            the gateway does not answer at all
    probe.py chat URL KEY MODEL TEXT        POST a chat completion; print status and body as JSON
    probe.py upstream PORT DIR              an OpenAI-style provider that holds every call until
                                            DIR/release exists (DIR/received marks its arrival)
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def ready(url: str) -> int:
    try:
        with urllib.request.urlopen(url + "/readyz", timeout=2) as response:
            status, payload = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, payload = exc.code, exc.read()
    except OSError:  # refused or reset: nobody listening
        return 1
    print(json.dumps({"status": status, "body": json.loads(payload)}))
    return 0


def chat(url: str, key: str, model: str, text: str) -> int:
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": text}]}).encode()
    request = urllib.request.Request(
        url + "/v1/chat/completions",
        data=body,
        headers={"authorization": f"Bearer {key}", "content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, payload = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, payload = exc.code, exc.read()
    print(json.dumps({"status": status, "body": json.loads(payload)}))
    return 0


def upstream(port: int, folder: Path) -> int:
    class Held(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            request = json.loads(self.rfile.read(int(self.headers["content-length"])))
            (folder / "received").touch()
            while not (folder / "release").exists():  # the test says when
                time.sleep(0.05)
            answer = {
                "id": "chatcmpl-held",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": request["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "released"},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
            }
            data = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass

    folder.mkdir(parents=True, exist_ok=True)
    server = ThreadingHTTPServer(("127.0.0.1", port), Held)
    (folder / "listening").touch()
    server.serve_forever()
    return 0


def main(argv: list[str]) -> int:
    command, *args = argv
    if command == "ready":
        return ready(args[0])
    if command == "chat":
        return chat(*args)
    if command == "upstream":
        return upstream(int(args[0]), Path(args[1]))
    raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
