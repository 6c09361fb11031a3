"""OpenAI's Responses API: ``POST /v1/responses``.

``input`` is a string or a list of items: messages (``content`` a string or parts such as
``input_text``, ``input_image``, ``input_file``), ``function_call`` items (``arguments``: JSON
in a string) and ``function_call_output`` items; ``instructions`` is the system prompt; the
output limit is ``max_output_tokens``.

Streams are named server-sent events without a ``[DONE]`` sentinel. Text arrives in
``response.output_text.delta`` (per output item and content part) and
``response.function_call_arguments.delta``; the matching ``*.done`` events, the finished
items and ``response.completed`` (which carries the usage) repeat the whole text and are
restored whole. Text held back because it could start a pseudonym goes out as one more delta
just before its ``*.done`` event.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from gateway.dialects import fields as f
from gateway.dialects.fields import JsonObject
from gateway.dialects.framing import SSE, Framing, SseEvent, sse_event
from gateway.dialects.openai import BYTES_PER_TOKEN, error_body, parse_answer, usage_of
from gateway.dialects.openai import VOCABULARY as CHAT_VOCABULARY
from gateway.dialects.restoring import TOKEN_MARK_BYTES, Restorers, restore_tree
from gateway.dialects.slots import SCHEMA_WORDS, Shape, TextSlots, collect
from gateway.domain import CallView, Usage
from gateway.errors import GatewayError
from gateway.upstream import echo
from gateway.upstream.base import UpstreamResponse

VOCABULARY = CHAT_VOCABULARY | frozenset(
    [
        "instructions",
        "max_output_tokens",
        "previous_response_id",
        "include",
        "truncation",
        "reasoning",
        "summary",
        "effort",
        "call_id",
        "output",
        "status",
        "image_url",
        "file_url",
        "text",
        "format",
        "conversation",
        "background",
        "max_tool_calls",
        "prompt",
        "variables",
        "top_logprobs",
    ]
)
SHAPE = Shape(
    vocabulary=VOCABULARY | SCHEMA_WORDS,
    free_form=frozenset({"parameters", "metadata", "schema", "variables"}),
    json_text=frozenset({"arguments"}),
)
_TEXT_DELTAS = {
    "response.output_text.delta": ("response.output_text.done", False),
    "response.refusal.delta": ("response.refusal.done", False),
    "response.function_call_arguments.delta": ("response.function_call_arguments.done", True),
}
_DONE_OF = {done: delta for delta, (done, _) in _TEXT_DELTAS.items()}


def _piece(payload: dict[str, Any]) -> tuple[Any, ...]:
    """Which streamed text an event belongs to: its output item and content part."""
    return (payload.get("output_index"), payload.get("content_index"), payload.get("item_id"))


@dataclass(frozen=True, slots=True)
class Responses:
    family: str = "openai"
    action: str = "responses"
    path: str = "/v1/responses"
    upstream_path: str = "/responses"
    passes_headers: tuple[str, ...] = ()

    def read(self, body: JsonObject, raw_size: int) -> CallView:
        model = f.model_name(body)
        given = body.get("input")
        if isinstance(given, list):
            for index, item in enumerate(f.objects(given, "input")):
                f.optional(item, "type", str, f"input[{index}].type")
                f.optional(item, "arguments", str, f"input[{index}].arguments")
                if item.get("type") == "function_call":
                    f.identifier(item.get("name"), f"input[{index}].name")
        elif given is not None and not isinstance(given, str):
            raise f.invalid("input", "must be a string or an array of input items")
        f.optional(body, "instructions", str, "instructions")
        tools = []
        for index, tool in enumerate(f.objects(body.get("tools"), "tools")):
            if "name" in tool:
                tools.append(f.identifier(tool["name"], f"tools[{index}].name"))
        return CallView(
            action=self.action,
            model=model,
            stream=f.flag(body, "stream"),
            max_tokens=f.token_cap(body, "max_output_tokens"),
            input_tokens_estimate=raw_size // BYTES_PER_TOKEN,
            tools=tuple(tools),
        )

    def slots(self, body: JsonObject) -> TextSlots:
        return collect(body, SHAPE)

    def outgoing(self, body: JsonObject, *, model: str, stream_usage: bool) -> tuple[bytes, bool]:
        return f.canonical(dict(body, model=model)), False  # response.completed always has usage

    def answer(self, raw: bytes, mapping: Mapping[str, str]) -> tuple[bytes, Usage | None]:
        body = parse_answer(raw)
        usage = usage_of(body.get("usage")) if isinstance(body, dict) else None
        if not mapping or TOKEN_MARK_BYTES not in raw:
            return raw, usage
        return orjson.dumps(restore_tree(body, mapping, SHAPE.json_text)), usage

    def stream(self, mapping: Mapping[str, str], *, strip_usage: bool) -> ResponseStream:
        return ResponseStream(mapping)

    def error_body(self, error: GatewayError) -> bytes:
        return error_body(error)

    def echo(self, body: JsonObject, *, stream: bool) -> UpstreamResponse:
        text = echo.echo_text(body)
        tokens_in, tokens_out = echo.token_counts(body, text)
        rid = echo.echo_id(text, "resp_echo_")
        part = {"type": "output_text", "text": text, "annotations": []}
        item = {
            "type": "message",
            "id": "msg_" + rid,
            "status": "completed",
            "role": "assistant",
            "content": [part],
        }
        usage = {
            "input_tokens": tokens_in,
            "output_tokens": tokens_out,
            "total_tokens": tokens_in + tokens_out,
        }
        response = {
            "id": rid,
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
        if stream:
            return echo.stream_answer(_echo_events(response, item, text))
        return echo.json_answer(response)


async def _echo_events(response: dict[str, Any], item: dict[str, Any], text: str) -> AsyncIterator[bytes]:
    seq = iter(range(1_000_000))
    started = {**response, "status": "in_progress", "output": [], "usage": None}
    yield _event("response.created", {"response": started}, seq)
    empty_item = {**item, "status": "in_progress", "content": []}
    yield _event("response.output_item.added", {"output_index": 0, "item": empty_item}, seq)
    at = {"item_id": item["id"], "output_index": 0, "content_index": 0}
    empty_part = {"type": "output_text", "text": "", "annotations": []}
    yield _event("response.content_part.added", {**at, "part": empty_part}, seq)
    for piece in echo.pieces(text):
        yield _event("response.output_text.delta", {**at, "delta": piece, "logprobs": []}, seq)
    yield _event("response.output_text.done", {**at, "text": text, "logprobs": []}, seq)
    yield _event("response.content_part.done", {**at, "part": item["content"][0]}, seq)
    yield _event("response.output_item.done", {"output_index": 0, "item": item}, seq)
    yield _event("response.completed", {"response": response}, seq)


def _event(kind: str, payload: dict[str, Any], seq: Any) -> bytes:
    return sse_event(orjson.dumps({"type": kind, "sequence_number": next(seq), **payload}), kind)


class ResponseStream:
    framing: Framing = SSE

    def __init__(self, mapping: Mapping[str, str]) -> None:
        self._mapping = mapping
        self._restorers = Restorers(mapping) if mapping else None
        self._open: dict[tuple[Any, ...], dict[str, Any]] = {}  # piece -> its last delta event
        self.marker: bytes | None = None if mapping else b"response.completed"
        self.usage: Usage | None = None

    def handle(self, unit: bytes) -> bytes | None:
        event = SseEvent.parse(unit)
        payload = event.json_object()
        if payload is None:
            return unit
        kind = payload.get("type")
        if kind == "response.completed" and isinstance(payload.get("response"), dict):
            self.usage = usage_of(payload["response"].get("usage")) or self.usage
        if self._restorers is None:
            return unit
        if kind in _TEXT_DELTAS and isinstance(payload.get("delta"), str):
            piece = _piece(payload)
            self._open[piece] = payload
            payload["delta"] = self._restorers.feed(
                (kind, *piece), payload["delta"], json=_TEXT_DELTAS[kind][1]
            )
            return event.render(orjson.dumps(payload))
        held = self._held(_DONE_OF[kind], _piece(payload)) if kind in _DONE_OF else b""
        if TOKEN_MARK_BYTES not in event.data:
            return held + unit
        restored = restore_tree(payload, self._mapping, SHAPE.json_text)
        return held + event.render(orjson.dumps(restored))

    def finish(self) -> bytes:
        if self._restorers is None:
            return b""
        out = b""
        for piece, last in list(self._open.items()):
            out += self._held(last["type"], piece)
        return out

    def error(self, error: GatewayError) -> bytes:
        fields = error.fields()
        payload = {
            "type": "error",
            "code": fields["code"],
            "message": error.message,
            "param": fields["param"],
        }
        return sse_event(orjson.dumps(payload), "error")

    def _held(self, delta_kind: str, piece: tuple[Any, ...]) -> bytes:
        """Text held back for ``piece``, as one more delta event like the last one."""
        assert self._restorers is not None
        last = self._open.pop(piece, None)
        rest = self._restorers.flush((delta_kind, *piece))
        if last is None or not rest:
            return b""
        return sse_event(orjson.dumps({**last, "delta": rest}), delta_kind)


RESPONSES = Responses()
