"""The fake provider's other dialects: Anthropic Messages, OpenAI Responses, Ollama's native API.

Same markers as the OpenAI routes (``[[echo]]``, ``[[tool]]``, ``[[status:CODE]]``); the text
looked at is the last user text of the request. Streams come in 7-character pieces, so a
pseudonym always arrives split over several events.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

Record = Callable[[web.Request], Awaitable[dict[str, Any]]]
PIECE = 7
GREETING = "Hello from the fake provider."


def add_routes(app: web.Application, record: Record, marks: Callable[[str], dict[str, str]]) -> None:
    native = _Native(record, marks)
    app.router.add_post("/v1/messages", native.messages)
    app.router.add_post("/v1/messages/count_tokens", native.count_tokens)
    app.router.add_post("/v1/responses", native.responses)
    app.router.add_post("/api/chat", native.ollama_chat)
    app.router.add_post("/api/generate", native.ollama_generate)
    app.router.add_post("/api/embed", native.ollama_embed)


def _pieces(text: str) -> list[str]:
    return [text[i : i + PIECE] for i in range(0, len(text), PIECE)] or [""]


def _json(payload: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(payload), status=status, content_type="application/json")


async def _sse(request: web.Request, events: list[tuple[str | None, dict[str, Any]]]) -> web.StreamResponse:
    response = web.StreamResponse(headers={"content-type": "text/event-stream"})
    await response.prepare(request)
    for name, payload in events:
        head = f"event: {name}\n".encode() if name else b""
        await response.write(head + b"data: " + orjson.dumps(payload) + b"\n\n")
    await response.write_eof()
    return response


def _anthropic_text(body: dict[str, Any]) -> str:
    content = (body.get("messages") or [{}])[-1].get("content")
    if isinstance(content, list):
        return " ".join(str(b.get("text", "")) for b in content if isinstance(b, dict))
    return str(content or "")


class _Native:
    def __init__(self, record: Record, marks: Callable[[str], dict[str, str]]) -> None:
        self._record = record
        self._marks = marks

    # -- Anthropic ------------------------------------------------------------------------
    async def messages(self, request: web.Request) -> web.StreamResponse:
        body = await self._record(request)
        text = _anthropic_text(body)
        marks = self._marks(text)
        if "status" in marks:
            error = {"type": "error", "error": {"type": "api_error", "message": "fake provider error"}}
            return _json(error, int(marks["status"]))
        reply = text if "echo" in marks else GREETING
        tool = {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"query": text}}
        content: list[dict[str, Any]] = [tool] if "tool" in marks else [{"type": "text", "text": reply}]
        usage = {"input_tokens": 11, "output_tokens": 7}
        message = {
            "id": "msg_fake",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": content,
            "stop_reason": "tool_use" if "tool" in marks else "end_turn",
            "stop_sequence": None,
            "usage": usage,
        }
        if not body.get("stream"):
            return _json(message)
        start = {
            **message,
            "content": [],
            "stop_reason": None,
            "usage": {"input_tokens": 11, "output_tokens": 1},
        }
        events: list[tuple[str | None, dict[str, Any]]] = [
            ("message_start", {"type": "message_start", "message": start})
        ]
        if "tool" in marks:
            block = {**tool, "input": {}}
            events.append(
                ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": block})
            )
            for piece in _pieces(orjson.dumps({"query": text}).decode()):
                delta = {"type": "input_json_delta", "partial_json": piece}
                events.append(
                    ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta})
                )
        else:
            block = {"type": "text", "text": ""}
            events.append(
                ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": block})
            )
            events.append(("ping", {"type": "ping"}))
            for piece in _pieces(reply):
                delta = {"type": "text_delta", "text": piece}
                events.append(
                    ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta})
                )
        events.append(("content_block_stop", {"type": "content_block_stop", "index": 0}))
        end = {"stop_reason": message["stop_reason"], "stop_sequence": None}
        events.append(
            ("message_delta", {"type": "message_delta", "delta": end, "usage": {"output_tokens": 7}})
        )
        events.append(("message_stop", {"type": "message_stop"}))
        return await _sse(request, events)

    async def count_tokens(self, request: web.Request) -> web.Response:
        body = await self._record(request)
        return _json({"input_tokens": len(orjson.dumps(body.get("messages"))) // 4})

    # -- OpenAI Responses -----------------------------------------------------------------
    async def responses(self, request: web.Request) -> web.StreamResponse:
        body = await self._record(request)
        given = body.get("input")
        text = given if isinstance(given, str) else orjson.dumps(given).decode()
        marks = self._marks(text)
        reply = text if "echo" in marks else GREETING
        part = {"type": "output_text", "text": reply, "annotations": []}
        item = {
            "type": "message",
            "id": "msg_1",
            "status": "completed",
            "role": "assistant",
            "content": [part],
        }
        usage = {"input_tokens": 9, "output_tokens": 5, "total_tokens": 14}
        response = {
            "id": "resp_fake",
            "object": "response",
            "created_at": int(time.time()),
            "status": "completed",
            "model": body["model"],
            "output": [item],
            "usage": usage,
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "tools": [],
        }
        if not body.get("stream"):
            return _json(response)
        at = {"item_id": "msg_1", "output_index": 0, "content_index": 0}
        seq = iter(range(10_000))

        def ev(kind: str, **payload: Any) -> tuple[str, dict[str, Any]]:
            return kind, {"type": kind, "sequence_number": next(seq), **payload}

        events = [ev("response.created", response={**response, "status": "in_progress", "output": []})]
        events.append(ev("response.output_item.added", output_index=0, item={**item, "content": []}))
        events += [ev("response.output_text.delta", **at, delta=p, logprobs=[]) for p in _pieces(reply)]
        events.append(ev("response.output_text.done", **at, text=reply, logprobs=[]))
        events.append(ev("response.output_item.done", output_index=0, item=item))
        events.append(ev("response.completed", response=response))
        return await _sse(request, list(events))

    # -- Ollama ---------------------------------------------------------------------------
    async def ollama_chat(self, request: web.Request) -> web.StreamResponse:
        body = await self._record(request)
        text = str((body.get("messages") or [{}])[-1].get("content") or "")
        return await self._ollama(
            request, body, text, lambda piece: {"message": {"role": "assistant", "content": piece}}
        )

    async def ollama_generate(self, request: web.Request) -> web.StreamResponse:
        body = await self._record(request)
        return await self._ollama(
            request, body, str(body.get("prompt") or ""), lambda piece: {"response": piece}
        )

    async def ollama_embed(self, request: web.Request) -> web.Response:
        body = await self._record(request)
        inputs = body.get("input")
        items = inputs if isinstance(inputs, list) else [inputs]
        return _json(
            {"model": body["model"], "embeddings": [[0.1, 0.2] for _ in items], "prompt_eval_count": 4}
        )

    async def _ollama(
        self, request: web.Request, body: dict[str, Any], text: str, shape: Callable[[str], dict[str, Any]]
    ) -> web.StreamResponse:
        marks = self._marks(text)
        if "status" in marks:
            return _json({"error": "fake provider error"}, int(marks["status"]))
        reply = text if "echo" in marks else GREETING
        head = {"model": body["model"], "created_at": "2026-12-01T00:00:00Z"}
        last = {
            **head,
            **shape(""),
            "done": True,
            "done_reason": "stop",
            "prompt_eval_count": 8,
            "eval_count": 6,
        }
        if body.get("stream") is False:
            return _json({**last, **shape(reply)})
        response = web.StreamResponse(headers={"content-type": "application/x-ndjson"})
        await response.prepare(request)
        for piece in _pieces(reply):
            await response.write(orjson.dumps({**head, **shape(piece), "done": False}) + b"\n")
        await response.write(orjson.dumps(last) + b"\n")
        await response.write_eof()
        return response
