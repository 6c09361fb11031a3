"""A fast fake OpenAI upstream: raw asyncio protocol, httptools parser, uvloop.

No framework and every response is serialised once at start-up, so that on one core it
answers far faster than any proxy in front of it (the `direct` row is the rig's ceiling).

    POST /v1/chat/completions                 fixed chat.completion JSON (Content-Length)
    POST /v1/chat/completions {"stream":true} chunked text/event-stream: 20 `data:` events
                                              (18 content deltas, finish, usage) + `data: [DONE]`,
                                              one write per event
    POST /v1/embeddings                       fixed 256-dimension embedding
    GET  /v1/models, /health, /readyz
    GET  /_bench/last                         the last POST body received (for the guard check)
    POST /mcp                                 an MCP server (Streamable HTTP, JSON answers): initialize
                                              (session "bench-session"), notifications (202), tools/list
                                              (one tool, "echo"), tools/call (a fixed text result)
    DELETE /mcp                               ends the session (200)

Paths are also accepted without `/v1`. Streams are paced (a sleep between events) when the
server runs with `--chunk-delay-ms N` or when the request body contains `bench-pace-<N>ms`.
`--require-key K` answers 401 unless `Authorization: Bearer K` (checks credential swapping).

    python -m bench.upstream --port 9000 [--chunk-delay-ms 0] [--require-key sk-upstream]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import sys
from typing import Any, cast

import httptools

MODEL = "gpt-4o-mini"
CREATED = 1_700_000_000
CHAT_ID = "chatcmpl-bench0000000000000000000000"
STREAM_RE = re.compile(rb'"stream"\s*:\s*true')
PACE_RE = re.compile(rb"bench-pace-(\d{1,4})ms")


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


CHAT_BODY = _dumps(
    {
        "id": CHAT_ID,
        "object": "chat.completion",
        "created": CREATED,
        "model": MODEL,
        "system_fingerprint": "fp_bench",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "This is a fixed benchmark reply from the fake upstream. It is long enough "
                    "to look like a short real answer, about forty tokens in total, and never changes.",
                    "refusal": None,
                },
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 250, "completion_tokens": 40, "total_tokens": 290},
    }
)
EMBEDDING_BODY = _dumps(
    {
        "object": "list",
        "data": [{"object": "embedding", "index": 0, "embedding": [round(i / 256, 6) for i in range(256)]}],
        "model": "text-embedding-3-small",
        "usage": {"prompt_tokens": 250, "total_tokens": 250},
    }
)
MODELS_BODY = _dumps(
    {"object": "list", "data": [{"id": MODEL, "object": "model", "created": CREATED, "owned_by": "bench"}]}
)


def _sse_events() -> list[bytes]:
    base = {"id": CHAT_ID, "object": "chat.completion.chunk", "created": CREATED, "model": MODEL}
    reply = "This is a fixed streamed benchmark reply from the fake upstream"
    reply += " it never changes and has eighteen words"
    words = reply.split(" ")
    events: list[dict[str, Any]] = []
    for i, word in enumerate(words):
        delta = {"role": "assistant", "content": word} if i == 0 else {"content": " " + word}
        events.append({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
    events.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    usage = {"prompt_tokens": 250, "completion_tokens": 18, "total_tokens": 268}
    events.append({**base, "choices": [], "usage": usage})
    return [b"data: " + _dumps(e) + b"\n\n" for e in events] + [b"data: [DONE]\n\n"]


SSE_EVENTS = _sse_events()
SSE_CHUNKS = [b"%x\r\n%s\r\n" % (len(e), e) for e in SSE_EVENTS]
SSE_END = b"0\r\n\r\n"
SSE_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
    b"Transfer-Encoding: chunked\r\n"
)


def _response(status: bytes, body: bytes, keep_alive: bool = True) -> bytes:
    close = b"" if keep_alive else b"Connection: close\r\n"
    return (
        b"HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n"
        % (status, len(body), close)
    ) + body


FIXED = {
    "chat": CHAT_BODY,
    "embeddings": EMBEDDING_BODY,
    "models": MODELS_BODY,
    "health": b'{"ok":true}',
    "404": b'{"error":{"message":"not found","type":"invalid_request_error"}}',
    "401": b'{"error":{"message":"bad upstream key","type":"invalid_request_error"}}',
}
STATUS = {"404": b"404 Not Found", "401": b"401 Unauthorized"}
PREBUILT = {key: _response(STATUS.get(key, b"200 OK"), body) for key, body in FIXED.items()}

# MCP: results are fixed; the response carries the request's id, so only the envelope varies.
MCP_SESSION = b"bench-session"
MCP_RESULTS = {
    "initialize": _dumps(
        {
            "protocolVersion": "2025-11-25",
            "capabilities": {"tools": {"listChanged": False}},
            "serverInfo": {"name": "bench", "version": "1"},
        }
    ),
    "tools/list": _dumps(
        {
            "tools": [
                {
                    "name": "echo",
                    "description": "Answers with a fixed text.",
                    "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}},
                }
            ]
        }
    ),
    "tools/call": _dumps(
        {"content": [{"type": "text", "text": "This is a fixed benchmark tool result."}], "isError": False}
    ),
    "ping": b"{}",
}
MCP_ID_RE = re.compile(rb'"id"\s*:\s*("(?:[^"\\]|\\.)*"|-?\d+)')
MCP_METHOD_RE = re.compile(rb'"method"\s*:\s*"([^"]+)"')


def mcp_answer(body: bytes, keep_alive: bool) -> bytes:
    """The answer to one JSON-RPC message: 202 for a notification, else a JSON response."""
    close = b"" if keep_alive else b"Connection: close\r\n"
    method = MCP_METHOD_RE.search(body)
    found = MCP_ID_RE.search(body)
    if found is None:
        return b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n%s\r\n" % close
    name = method.group(1).decode() if method else ""
    result = MCP_RESULTS.get(name)
    if result is None:
        payload = b'{"jsonrpc":"2.0","id":%s,"error":{"code":-32601,"message":"not found"}}' % found.group(1)
    else:
        payload = b'{"jsonrpc":"2.0","id":%s,"result":%s}' % (found.group(1), result)
    session = b"Mcp-Session-Id: %s\r\n" % MCP_SESSION if name == "initialize" else b""
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s%s\r\n"
        % (len(payload), session, close)
    ) + payload


class Config:
    """Process-wide settings, fixed at start-up."""

    delay_s: float = 0.0
    required_auth: bytes | None = None
    last_body: bytes = b""


class UpstreamProtocol(asyncio.Protocol):
    """One connection. HTTP/1.1 keep-alive; pipelined requests queue behind a paced stream."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.url = b""
        self.body: list[bytes] = []
        self.auth: bytes | None = None
        self.streaming: asyncio.Task[None] | None = None
        self.queue: list[tuple[str, bool, float]] = []
        self.closed = False

    # asyncio callbacks
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass it

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self._write(_response(b"400 Bad Request", b'{"error":"bad request"}', keep_alive=False))
            self._close()

    # httptools callbacks
    def on_message_begin(self) -> None:
        self.url = b""
        self.body = []
        self.auth = None

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        if Config.required_auth is not None and name.lower() == b"authorization":
            self.auth = value

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        keep_alive = self.parser.should_keep_alive()
        method = self.parser.get_method()
        path = self.url.split(b"?", 1)[0]
        if path.startswith(b"/v1/"):
            path = path[3:]
        if Config.required_auth is not None and self.auth != Config.required_auth and path != b"/health":
            return self._answer("401", keep_alive)
        if method == b"POST":
            body = b"".join(self.body)
            Config.last_body = body
            if path == b"/chat/completions":
                if STREAM_RE.search(body):
                    pace = PACE_RE.search(body)
                    delay = int(pace.group(1)) / 1000 if pace else Config.delay_s
                    return self._answer("stream", keep_alive, delay)
                return self._answer("chat", keep_alive)
            if path == b"/embeddings":
                return self._answer("embeddings", keep_alive)
            if path == b"/mcp":
                return self._write(mcp_answer(body, keep_alive))
        elif method == b"DELETE" and path == b"/mcp":
            return self._answer("health", keep_alive)
        elif path == b"/_bench/last":
            return self._write(_response(b"200 OK", Config.last_body or b"{}", keep_alive))
        elif path == b"/models":
            return self._answer("models", keep_alive)
        elif path in (b"/health", b"/readyz"):
            return self._answer("health", keep_alive)
        return self._answer("404", keep_alive)

    # responses
    def _answer(self, key: str, keep_alive: bool, delay: float = 0.0) -> None:
        if self.streaming is not None:
            self.queue.append((key, keep_alive, delay))
        elif key != "stream":
            self._write(
                PREBUILT[key] if keep_alive else _response(STATUS.get(key, b"200 OK"), FIXED[key], False)
            )
            if not keep_alive:
                self._close()
        elif delay > 0:
            self.streaming = asyncio.get_running_loop().create_task(self._paced_stream(keep_alive, delay))
        else:
            self._write(SSE_HEAD + (b"\r\n" if keep_alive else b"Connection: close\r\n\r\n"))
            for chunk in SSE_CHUNKS:
                self._write(chunk)  # one send() per event, like a real token stream
            self._write(SSE_END)
            if not keep_alive:
                self._close()

    async def _paced_stream(self, keep_alive: bool, delay: float) -> None:
        try:
            self._write(SSE_HEAD + (b"\r\n" if keep_alive else b"Connection: close\r\n\r\n"))
            for chunk in SSE_CHUNKS[:-1]:
                if self.closed:
                    return
                self._write(chunk)
                await asyncio.sleep(delay)
            self._write(SSE_CHUNKS[-1] + SSE_END)
            if not keep_alive:
                self._close()
        finally:
            self.streaming = None
        while self.queue and not self.closed and self.streaming is None:
            self._answer(*self.queue.pop(0))

    def _write(self, data: bytes) -> None:
        if self.transport is not None and not self.closed:
            self.transport.write(data)

    def _close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--chunk-delay-ms", type=float, default=0.0, help="sleep between SSE events")
    parser.add_argument("--require-key", default=None, help="answer 401 unless 'Authorization: Bearer KEY'")
    args = parser.parse_args(argv)
    Config.delay_s = args.chunk_delay_ms / 1000
    if args.require_key:
        Config.required_auth = b"Bearer " + args.require_key.encode()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        print("uvloop missing: using the stock asyncio loop", file=sys.stderr)
    asyncio.run(_serve(args.host, args.port, args.chunk_delay_ms, bool(args.require_key)))


async def _serve(host: str, port: int, delay_ms: float, require_key: bool) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(UpstreamProtocol, host, port, backlog=4096, reuse_address=True)
    print(
        f"fake upstream on http://{host}:{port} (loop {type(loop).__module__}, "
        f"chunk delay {delay_ms} ms, require key {'yes' if require_key else 'no'})",
        flush=True,
    )
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
