"""A fake provider: a real HTTP server on loopback (aiohttp, own thread), speaking the OpenAI
API under ``/v1`` and Anthropic's and Ollama's native APIs (``upstream_native.py``).

The test double for an LLM provider. Behaviour is chosen by a marker in the last message's
text, so tests stay stateless and can run concurrently against one server:

  [[slow:SECONDS]]    wait before answering (timeouts)
  [[status:CODE]]     answer with that HTTP status and an OpenAI-style error
  [[reset]]           close the connection without answering
  [[reset-mid]]       (stream) send two events, then drop the connection
  [[stall-mid]]       (stream) send two events, then go quiet for 30 s
  [[echo]]            reply with the text the provider received (for guard tests)
  [[tool]]            reply with a tool call whose arguments hold the received text
  [[badjson]]         answer 200 with a body that is not JSON

Every request body is recorded in ``received`` (what left the gateway).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import threading
import time
from typing import Any

import orjson
from aiohttp import web

from tests.support.upstream_native import add_routes

_MARK = re.compile(r"\[\[([a-z-]+)(?::([0-9.]+))?\]\]")


class FakeProvider:
    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self.port = _free_port()
        self.root_url = f"http://127.0.0.1:{self.port}"  # Anthropic and Ollama bases
        self.base_url = f"{self.root_url}/v1"  # the OpenAI base

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> FakeProvider:
        ready = threading.Event()
        threading.Thread(target=self._run, args=(ready,), daemon=True, name="fake-provider").start()
        if not ready.wait(10):
            raise RuntimeError("fake provider did not start")
        return self

    def stop(self) -> None:
        async def shutdown() -> None:
            if self._runner is not None:
                await self._runner.cleanup()

        # A handler may still be sleeping; the thread is a daemon and dies with the process.
        with contextlib.suppress(TimeoutError):
            asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/embeddings", self._embeddings)
        add_routes(app, self._record, lambda text: dict(_MARK.findall(text)))
        self._runner = web.AppRunner(app, access_log=None)
        self._loop.run_until_complete(self._runner.setup())
        # A deep accept queue: tests fire 200 concurrent calls, and a full default queue (128)
        # drops SYNs that are retried after 1 s and 3 s, past the gateway's connect timeout on
        # a loaded machine (a 504 that says nothing about the gateway).
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, backlog=1024)
        self._loop.run_until_complete(site.start())
        ready.set()
        self._loop.run_forever()

    # -- handlers -------------------------------------------------------------------------
    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await self._record(request)
        text = _last_text(body)
        marks = dict(_MARK.findall(text))
        early = await _early_exit(request, marks)
        if early is not None:
            return early
        reply = text if "echo" in marks else "Hello from the fake provider."
        if "tool" in marks:
            return await _tool_call(request, body, orjson.dumps({"query": text}).decode())
        if body.get("stream"):
            return await _stream(request, body, reply, marks)
        return web.json_response(_completion(body, reply), dumps=lambda o: orjson.dumps(o).decode())

    async def _embeddings(self, request: web.Request) -> web.Response:
        body = await self._record(request)
        inputs = body.get("input")
        items = inputs if isinstance(inputs, list) else [inputs]
        data = [{"object": "embedding", "index": i, "embedding": [0.1, 0.2, 0.3]} for i in range(len(items))]
        usage = {"prompt_tokens": 5 * len(items), "total_tokens": 5 * len(items)}
        return web.json_response({"object": "list", "data": data, "model": body.get("model"), "usage": usage})

    async def _record(self, request: web.Request) -> dict[str, Any]:
        body: dict[str, Any] = orjson.loads(await request.read())
        self.received.append(body)
        self.headers.append(dict(request.headers))
        return body


async def _early_exit(request: web.Request, marks: dict[str, str]) -> web.StreamResponse | None:
    if "slow" in marks:
        await asyncio.sleep(float(marks["slow"] or 1))
    if "status" in marks:
        code = int(marks["status"])
        error = {"error": {"message": f"fake provider error {code}", "type": "server_error", "code": None}}
        return web.json_response(error, status=code)
    if "badjson" in marks:
        return web.Response(body=b"<html>not json</html>", status=200, content_type="application/json")
    if "reset" in marks:
        assert request.transport is not None
        request.transport.abort()
        return web.Response(status=500)
    return None


async def _stream(
    request: web.Request, body: dict[str, Any], reply: str, marks: dict[str, str]
) -> web.StreamResponse:
    response = web.StreamResponse(headers={"content-type": "text/event-stream", "cache-control": "no-cache"})
    await response.prepare(request)
    base = {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": body["model"],
    }
    words = [w + " " for w in reply.split(" ")] if reply else [""]
    for i, word in enumerate(words):
        if i == 2 and "reset-mid" in marks:
            assert request.transport is not None
            request.transport.abort()
            return response
        if i == 2 and "stall-mid" in marks:
            for _ in range(300):  # go quiet for up to 30 s, but stop once the gateway hangs up
                if request.transport is None or request.transport.is_closing():
                    return response
                await asyncio.sleep(0.1)
        delta = {"role": "assistant", "content": word} if i == 0 else {"content": word}
        await response.write(
            _event({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
        )
    await response.write(_event({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}))
    if (body.get("stream_options") or {}).get("include_usage"):
        usage = {"prompt_tokens": 12, "completion_tokens": len(words), "total_tokens": 12 + len(words)}
        await response.write(_event({**base, "choices": [], "usage": usage}))
    await response.write(b"data: [DONE]\n\n")
    await response.write_eof()
    return response


async def _tool_call(request: web.Request, body: dict[str, Any], arguments: str) -> web.StreamResponse:
    call = {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": arguments}}
    if not body.get("stream"):
        completion = _completion(body, "")
        completion["choices"][0]["message"] = {"role": "assistant", "content": None, "tool_calls": [call]}
        completion["choices"][0]["finish_reason"] = "tool_calls"
        return web.json_response(completion)
    response = web.StreamResponse(headers={"content-type": "text/event-stream"})
    await response.prepare(request)
    base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": body["model"]}
    first = {**call, "function": {"name": "lookup", "arguments": ""}, "index": 0}
    await response.write(_event({**base, "choices": [{"index": 0, "delta": {"tool_calls": [first]}}]}))
    for start in range(0, len(arguments), 7):  # small pieces: pseudonyms get split across events
        piece = {"index": 0, "function": {"arguments": arguments[start : start + 7]}}
        await response.write(_event({**base, "choices": [{"index": 0, "delta": {"tool_calls": [piece]}}]}))
    done = {"index": 0, "delta": {}, "finish_reason": "tool_calls"}
    await response.write(_event({**base, "choices": [done]}))
    await response.write(b"data: [DONE]\n\n")
    await response.write_eof()
    return response


def _completion(body: dict[str, Any], reply: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body["model"],
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": 6, "total_tokens": 18},
    }


def _event(payload: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def _last_text(body: dict[str, Any]) -> str:
    messages = body.get("messages") or []
    if not messages:
        return ""
    content = messages[-1].get("content")
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return str(content or "")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
