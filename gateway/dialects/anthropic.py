"""Anthropic's Messages API: ``POST /v1/messages`` and ``POST /v1/messages/count_tokens``.

Requests carry ``system`` (a string or text blocks), ``messages`` whose content is a string
or content blocks (text, image, document, tool_use with an ``input`` object, tool_result),
``tools`` with an ``input_schema``, and a required ``max_tokens``. The caller's
``anthropic-version`` and ``anthropic-beta`` headers are passed on.

Streams are named server-sent events: ``message_start`` (input usage), ``content_block_*``
(``text_delta``, ``input_json_delta`` with partial JSON, ``thinking_delta``),
``message_delta`` (output usage, cumulative) and ``message_stop``. Text held back because it
could be the start of a pseudonym is released as an extra delta just before its block's
``content_block_stop``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from gateway.dialects import fields as f
from gateway.dialects.fields import JsonObject
from gateway.dialects.framing import SSE, Framing, SseEvent, sse_event
from gateway.dialects.openai import BYTES_PER_TOKEN, parse_answer
from gateway.dialects.restoring import TOKEN_MARK_BYTES, Restorers, restore_tree
from gateway.dialects.slots import SCHEMA_WORDS, Shape, TextSlots, collect
from gateway.domain import CallView, Usage
from gateway.errors import GatewayError
from gateway.upstream import echo
from gateway.upstream.base import UpstreamResponse

ROLES = frozenset({"user", "assistant"})
PASSED_HEADERS = ("anthropic-version", "anthropic-beta")

VOCABULARY = frozenset(
    [
        "model",
        "max_tokens",
        "messages",
        "role",
        "content",
        "type",
        "text",
        "source",
        "media_type",
        "data",
        "url",
        "file_id",
        "cache_control",
        "ttl",
        "citations",
        "id",
        "name",
        "input",
        "tool_use_id",
        "is_error",
        "system",
        "metadata",
        "user_id",
        "stop_sequences",
        "stream",
        "temperature",
        "top_k",
        "top_p",
        "tools",
        "description",
        "input_schema",
        "tool_choice",
        "disable_parallel_tool_use",
        "thinking",
        "budget_tokens",
        "signature",
        "title",
        "context",
        "service_tier",
        "container",
        "mcp_servers",
    ]
)
SHAPE = Shape(
    vocabulary=VOCABULARY | SCHEMA_WORDS, free_form=frozenset({"input", "input_schema", "metadata"})
)

# Anthropic names its error types by what went wrong; the SDK maps statuses the same way.
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    409: "invalid_request_error",
    413: "request_too_large",
    415: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    502: "api_error",
    503: "overloaded_error",
    504: "api_error",
}


def error_body(error: GatewayError) -> bytes:
    detail = {**error.fields(), "type": _ERROR_TYPES.get(error.status, "api_error")}
    return orjson.dumps({"type": "error", "error": detail})


def usage_of(value: Any) -> Usage | None:
    if not isinstance(value, dict):
        return None
    counts = [
        value.get(k, 0) for k in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
    ]
    out = value.get("output_tokens", 0)
    if not all(_count(c) for c in (*counts, out)):
        return None
    return Usage(sum(c or 0 for c in counts), out or 0)


def _count(value: Any) -> bool:
    return value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 0)


def _read_messages(body: JsonObject) -> None:
    for index, message in enumerate(f.objects(body.get("messages"), "messages", required=True)):
        path = f"messages[{index}]"
        f.one_of(message.get("role"), ROLES, f"{path}.role")
        content = message.get("content")
        if isinstance(content, list):
            for at, block in enumerate(f.objects(content, f"{path}.content")):
                f.optional(block, "type", str, f"{path}.content[{at}].type")
                if block.get("type") == "tool_use":
                    f.identifier(block.get("name"), f"{path}.content[{at}].name")
                    f.optional(block, "input", dict, f"{path}.content[{at}].input")
        elif not isinstance(content, str):
            raise f.invalid(f"{path}.content", "must be a string or an array of content blocks")
    system = body.get("system")
    if system is not None and not isinstance(system, str):
        f.objects(system, "system")


def _tool_names(body: JsonObject) -> tuple[str, ...]:
    names = []
    for index, tool in enumerate(f.objects(body.get("tools"), "tools")):
        names.append(f.identifier(tool.get("name"), f"tools[{index}].name"))
        f.optional(tool, "input_schema", dict, f"tools[{index}].input_schema")
    return tuple(names)


@dataclass(frozen=True, slots=True)
class Messages:
    family: str = "anthropic"
    action: str = "chat"
    path: str = "/v1/messages"
    upstream_path: str = "/v1/messages"
    passes_headers: tuple[str, ...] = PASSED_HEADERS

    def read(self, body: JsonObject, raw_size: int) -> CallView:
        model = f.model_name(body)
        if "max_tokens" not in body:
            raise f.invalid("max_tokens", "is required")
        _read_messages(body)
        tools = _tool_names(body)
        f.optional(body, "stop_sequences", list, "stop_sequences")
        return CallView(
            action=self.action,
            model=model,
            stream=f.flag(body, "stream"),
            max_tokens=f.token_cap(body, "max_tokens"),
            input_tokens_estimate=raw_size // BYTES_PER_TOKEN,
            tools=tools,
        )

    def slots(self, body: JsonObject) -> TextSlots:
        return collect(body, SHAPE)

    def outgoing(self, body: JsonObject, *, model: str, stream_usage: bool) -> tuple[bytes, bool]:
        return f.canonical(dict(body, model=model)), False  # Anthropic always streams its usage

    def answer(self, raw: bytes, mapping: Mapping[str, str]) -> tuple[bytes, Usage | None]:
        body = parse_answer(raw)
        usage = usage_of(body.get("usage")) if isinstance(body, dict) else None
        if not mapping or TOKEN_MARK_BYTES not in raw:
            return raw, usage
        return orjson.dumps(restore_tree(body, mapping)), usage

    def stream(self, mapping: Mapping[str, str], *, strip_usage: bool) -> MessageStream:
        return MessageStream(mapping)

    def error_body(self, error: GatewayError) -> bytes:
        return error_body(error)

    def echo(self, body: JsonObject, *, stream: bool) -> UpstreamResponse:
        text = echo.echo_text(body)
        tokens_in, tokens_out = echo.token_counts(body, text)
        message = {
            "id": echo.echo_id(text, "msg_echo_"),
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": tokens_in, "output_tokens": tokens_out},
        }
        if stream:
            return echo.stream_answer(_echo_events(message, text))
        return echo.json_answer(message)


@dataclass(frozen=True, slots=True)
class CountTokens:
    """Counting is free at the provider, but the text still leaves the building: guarded."""

    family: str = "anthropic"
    action: str = "count_tokens"
    path: str = "/v1/messages/count_tokens"
    upstream_path: str = "/v1/messages/count_tokens"
    passes_headers: tuple[str, ...] = PASSED_HEADERS

    def read(self, body: JsonObject, raw_size: int) -> CallView:
        model = f.model_name(body)
        _read_messages(body)
        return CallView(action=self.action, model=model, tools=_tool_names(body))

    def slots(self, body: JsonObject) -> TextSlots:
        return collect(body, SHAPE)

    def outgoing(self, body: JsonObject, *, model: str, stream_usage: bool) -> tuple[bytes, bool]:
        return f.canonical(dict(body, model=model)), False

    def answer(self, raw: bytes, mapping: Mapping[str, str]) -> tuple[bytes, Usage | None]:
        parse_answer(raw)
        return raw, Usage(0, 0)

    def stream(self, mapping: Mapping[str, str], *, strip_usage: bool) -> MessageStream:
        return MessageStream(mapping)

    def error_body(self, error: GatewayError) -> bytes:
        return error_body(error)

    def echo(self, body: JsonObject, *, stream: bool) -> UpstreamResponse:
        return echo.json_answer({"input_tokens": echo.token_counts(body, "")[0]})


async def _echo_events(message: dict[str, Any], text: str) -> AsyncIterator[bytes]:
    usage = message["usage"]
    start = {**message, "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 1}}
    yield _event("message_start", {"type": "message_start", "message": start})
    yield _event(
        "content_block_start",
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    )
    for piece in echo.pieces(text):
        delta = {"type": "text_delta", "text": piece}
        yield _event("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta})
    yield _event("content_block_stop", {"type": "content_block_stop", "index": 0})
    end = {"stop_reason": "end_turn", "stop_sequence": None}
    yield _event(
        "message_delta",
        {"type": "message_delta", "delta": end, "usage": {"output_tokens": usage["output_tokens"]}},
    )
    yield _event("message_stop", {"type": "message_stop"})


def _event(name: str, payload: dict[str, Any]) -> bytes:
    return sse_event(orjson.dumps(payload), name)


# Which delta field holds streamed text, and whether that text is JSON (escape on restore).
_DELTA_TEXT = {
    "text_delta": ("text", False),
    "input_json_delta": ("partial_json", True),
    "thinking_delta": ("thinking", False),
}


class MessageStream:
    """A Messages stream: usage from ``message_start`` and ``message_delta``; pseudonyms
    restored per content block."""

    framing: Framing = SSE

    def __init__(self, mapping: Mapping[str, str]) -> None:
        self._mapping = mapping
        self._restorers = Restorers(mapping) if mapping else None
        self._kinds: dict[Any, str] = {}  # block index -> delta type seen (to flush in kind)
        self._input: Usage | None = None
        self.marker: bytes | None = None if mapping else b'"usage"'
        self.usage: Usage | None = None

    def handle(self, unit: bytes) -> bytes | None:
        event = SseEvent.parse(unit)
        payload = event.json_object()
        if payload is None:
            return unit
        kind = payload.get("type")
        self._count(kind, payload)
        if self._restorers is None:
            return unit
        if kind == "content_block_delta":
            return self._delta(event, payload)
        if kind == "content_block_stop":
            return self._held(payload.get("index")) + unit
        if TOKEN_MARK_BYTES not in event.data:
            return unit
        return event.render(orjson.dumps(restore_tree(payload, self._mapping)))

    def finish(self) -> bytes:
        if self._restorers is None:
            return b""
        return b"".join(self._held(index) for index in list(self._kinds))

    def error(self, error: GatewayError) -> bytes:
        return sse_event(error_body(error), "error")

    def _count(self, kind: Any, payload: dict[str, Any]) -> None:
        if kind == "message_start" and isinstance(payload.get("message"), dict):
            self._input = usage_of(payload["message"].get("usage"))
            self.usage = self._input
        elif kind == "message_delta":
            out = usage_of(payload.get("usage"))
            if out is not None:
                tokens_in = self._input.tokens_in if self._input else 0
                self.usage = Usage(tokens_in or out.tokens_in, out.tokens_out)

    def _delta(self, event: SseEvent, payload: dict[str, Any]) -> bytes:
        assert self._restorers is not None
        delta, index = payload.get("delta"), payload.get("index")
        if isinstance(delta, dict) and delta.get("type") in _DELTA_TEXT:
            name, is_json = _DELTA_TEXT[delta["type"]]
            if isinstance(delta.get(name), str):
                self._kinds[index] = delta["type"]
                delta[name] = self._restorers.feed((index, name), delta[name], json=is_json)
        return event.render(orjson.dumps(payload))

    def _held(self, index: Any) -> bytes:
        """Text held back in block ``index``, as one more delta of the block's kind."""
        assert self._restorers is not None
        kind = self._kinds.pop(index, None)
        if kind is None:
            return b""
        name = _DELTA_TEXT[kind][0]
        rest = self._restorers.flush((index, name))
        if not rest:
            return b""
        payload = {"type": "content_block_delta", "index": index, "delta": {"type": kind, name: rest}}
        return _event("content_block_delta", payload)


MESSAGES = Messages()
COUNT_TOKENS = CountTokens()
