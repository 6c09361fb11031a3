"""The OpenAI dialect: ``POST /v1/chat/completions`` and ``POST /v1/embeddings``.

Streams are server-sent ``data:`` events ending with ``data: [DONE]``. Usage comes from
the final chunk that ``stream_options.include_usage`` adds: when the caller did not ask
for it, the gateway asks on its behalf (accounting needs it) and drops that chunk from what
the caller receives.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from gateway.dialects import fields as f
from gateway.dialects.fields import JsonObject
from gateway.dialects.framing import SSE, Framing, SseEvent
from gateway.dialects.restoring import TOKEN_MARK_BYTES, Restorers, restore_tree
from gateway.dialects.slots import SCHEMA_WORDS, Shape, TextSlots, collect
from gateway.domain import CallView, Usage
from gateway.errors import GatewayError, UpstreamError
from gateway.upstream import echo
from gateway.upstream.base import UpstreamResponse

BYTES_PER_TOKEN = 4  # rough estimate used before the provider reports real usage
ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
_MAX_CHOICES = 128
TEXT_DELTAS = ("content", "refusal", "reasoning_content")  # streamed text that can split a pseudonym

# Field names of the chat and embeddings APIs: keys that are structure, never personal data.
VOCABULARY = frozenset(
    [
        "model",
        "messages",
        "role",
        "content",
        "name",
        "tool_calls",
        "tool_call_id",
        "id",
        "type",
        "function",
        "arguments",
        "refusal",
        "audio",
        "text",
        "image_url",
        "url",
        "detail",
        "input_audio",
        "data",
        "format",
        "file",
        "file_id",
        "file_data",
        "filename",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "description",
        "parameters",
        "strict",
        "functions",
        "function_call",
        "stream",
        "stream_options",
        "include_usage",
        "max_tokens",
        "max_completion_tokens",
        "n",
        "temperature",
        "top_p",
        "stop",
        "presence_penalty",
        "frequency_penalty",
        "logit_bias",
        "logprobs",
        "top_logprobs",
        "seed",
        "user",
        "metadata",
        "store",
        "response_format",
        "json_schema",
        "schema",
        "prediction",
        "modalities",
        "reasoning_effort",
        "service_tier",
        "web_search_options",
        "input",
        "encoding_format",
        "dimensions",
        "annotations",
        "verbosity",
        "safety_identifier",
        "prompt_cache_key",
    ]
)
SHAPE = Shape(
    vocabulary=VOCABULARY | SCHEMA_WORDS,
    free_form=frozenset({"parameters", "metadata", "schema", "logit_bias"}),
    json_text=frozenset({"arguments"}),
    binary=frozenset({"data"}),  # input_audio.data: base64 audio
)


def error_body(error: GatewayError) -> bytes:
    return orjson.dumps({"error": error.fields()})


def usage_of(value: Any) -> Usage | None:
    """OpenAI's usage object (``prompt_tokens``/``completion_tokens``, or the Responses names)."""
    if not isinstance(value, dict):
        return None
    tokens_in = _count(value.get("prompt_tokens", value.get("input_tokens", 0)))
    tokens_out = _count(value.get("completion_tokens", value.get("output_tokens", 0)))
    if tokens_in is None or tokens_out is None:
        return None
    return Usage(tokens_in, tokens_out)


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def parse_answer(raw: bytes, provider_said: str = "the provider") -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise UpstreamError(
            f"{provider_said} answered with invalid JSON", reason="upstream_protocol"
        ) from exc


# -- chat completions ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChatCompletions:
    family: str = "openai"
    action: str = "chat"
    path: str = "/v1/chat/completions"
    upstream_path: str = "/chat/completions"
    passes_headers: tuple[str, ...] = ()

    def read(self, body: JsonObject, raw_size: int) -> CallView:
        model = f.model_name(body)
        for index, message in enumerate(f.objects(body.get("messages"), "messages", required=True)):
            _message(message, f"messages[{index}]")
        tools = _tool_names(body)
        stream = f.flag(body, "stream")
        if f.optional(body, "stream_options", dict, "stream_options") is not None:
            f.flag(body["stream_options"], "include_usage", "stream_options.include_usage")
        choices = f.optional(body, "n", int, "n")
        choices = 1 if choices is None else choices
        if not 1 <= choices <= _MAX_CHOICES:
            raise f.invalid("n", f"must be between 1 and {_MAX_CHOICES}")
        cap = f.largest_cap(f.token_cap(body, "max_tokens"), f.token_cap(body, "max_completion_tokens"))
        return CallView(
            action=self.action,
            model=model,
            stream=stream,
            max_tokens=cap,
            input_tokens_estimate=raw_size // BYTES_PER_TOKEN,
            tools=tools,
            choices=choices,
        )

    def slots(self, body: JsonObject) -> TextSlots:
        return collect(body, SHAPE)

    def outgoing(self, body: JsonObject, *, model: str, stream_usage: bool) -> tuple[bytes, bool]:
        out = dict(body, model=model)
        options = body.get("stream_options")
        inject = stream_usage and not (isinstance(options, dict) and options.get("include_usage") is True)
        if inject:
            out["stream_options"] = {**(options or {}), "include_usage": True}
        return f.canonical(out), inject

    def answer(self, raw: bytes, mapping: Mapping[str, str]) -> tuple[bytes, Usage | None]:
        body = parse_answer(raw)
        usage = usage_of(body.get("usage")) if isinstance(body, dict) else None
        if not mapping or TOKEN_MARK_BYTES not in raw:
            return raw, usage
        return orjson.dumps(restore_tree(body, mapping, SHAPE.json_text)), usage

    def stream(self, mapping: Mapping[str, str], *, strip_usage: bool) -> ChatStream:
        return ChatStream(mapping, strip_usage)

    def error_body(self, error: GatewayError) -> bytes:
        return error_body(error)

    def echo(self, body: JsonObject, *, stream: bool) -> UpstreamResponse:
        text = echo.echo_text(body)
        tokens_in, tokens_out = echo.token_counts(body, text)
        usage = {
            "prompt_tokens": tokens_in,
            "completion_tokens": tokens_out,
            "total_tokens": tokens_in + tokens_out,
        }
        base = {
            "id": echo.echo_id(text, "chatcmpl-echo-"),
            "created": int(time.time()),
            "model": body["model"],
        }
        if stream:
            return echo.stream_answer(_echo_chunks(base, text, usage))
        message = {"role": "assistant", "content": text}
        choice = {"index": 0, "message": message, "finish_reason": "stop"}
        return echo.json_answer({**base, "object": "chat.completion", "choices": [choice], "usage": usage})


def _message(message: JsonObject, path: str) -> None:
    f.one_of(message.get("role"), ROLES, f"{path}.role")
    content = message.get("content")
    if isinstance(content, list):
        for index, part in enumerate(f.objects(content, f"{path}.content")):
            f.optional(part, "type", str, f"{path}.content[{index}].type")
    elif content is not None and not isinstance(content, str):
        raise f.invalid(f"{path}.content", "must be a string, an array of parts or null")
    for index, call in enumerate(f.objects(message.get("tool_calls"), f"{path}.tool_calls")):
        function = f.optional(call, "function", dict, f"{path}.tool_calls[{index}].function") or {}
        f.optional(function, "arguments", str, f"{path}.tool_calls[{index}].function.arguments")


def _tool_names(body: JsonObject) -> tuple[str, ...]:
    names = []
    for index, tool in enumerate(f.objects(body.get("tools"), "tools")):
        function = f.optional(tool, "function", dict, f"tools[{index}].function")
        if function is not None and "name" in function:
            names.append(f.identifier(function["name"], f"tools[{index}].function.name"))
    for index, function in enumerate(f.objects(body.get("functions"), "functions")):
        names.append(f.identifier(function.get("name"), f"functions[{index}].name"))
    return tuple(names)


async def _echo_chunks(base: dict[str, Any], text: str, usage: dict[str, int]) -> AsyncIterator[bytes]:
    head = {**base, "object": "chat.completion.chunk"}
    role: dict[str, str] = {"role": "assistant"}
    for piece in echo.pieces(text):
        yield _data(
            {**head, "choices": [{"index": 0, "delta": {**role, "content": piece}, "finish_reason": None}]}
        )
        role = {}
    yield _data({**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    yield _data({**head, "choices": [], "usage": usage})
    yield b"data: [DONE]\n\n"


def _data(payload: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


class ChatStream:
    """A chat-completion stream: usage read once, pseudonyms restored per choice and tool call."""

    framing: Framing = SSE

    def __init__(self, mapping: Mapping[str, str], strip_usage: bool) -> None:
        self._restorers = Restorers(mapping) if mapping else None
        self._mapping = mapping
        self._strip_usage = strip_usage
        # Without pseudonyms to restore, only events that carry usage need any work.
        self.marker: bytes | None = None if mapping else b'"usage"'
        self.usage: Usage | None = None

    def handle(self, unit: bytes) -> bytes | None:
        event = SseEvent.parse(unit)
        if event.data == b"[DONE]":
            return self.finish() + unit
        chunk = event.json_object()
        if chunk is None:
            return unit
        if "usage" in chunk:
            self.usage = usage_of(chunk["usage"]) or self.usage
            if self._strip_usage and chunk.get("choices") == []:
                return None  # the usage chunk we asked for on the caller's behalf
        if self._restorers is None:
            return unit
        for choice in chunk.get("choices") or ():
            if isinstance(choice, dict):
                self._choice(choice)
        return event.render(orjson.dumps(chunk))

    def finish(self) -> bytes:
        """Text still held back when the stream ends without a finishing chunk."""
        if self._restorers is None:
            return b""
        held = self._restorers.flush_all()
        choices = [
            {"index": key[0], "delta": {"content": text}, "finish_reason": None}
            for key, text in held.items()
            if isinstance(key, tuple) and key[1] == "content"
        ]
        return _data({"object": "chat.completion.chunk", "choices": choices}) if choices else b""

    def error(self, error: GatewayError) -> bytes:
        return b"data: " + error_body(error) + b"\n\n"

    def _choice(self, choice: dict[str, Any]) -> None:
        assert self._restorers is not None
        index = choice.get("index", 0)
        delta = choice.get("delta")
        if not isinstance(delta, dict):
            return
        finished = choice.get("finish_reason") is not None
        for name in TEXT_DELTAS:
            given = delta.get(name)
            text = self._restorers.feed((index, name), given) if isinstance(given, str) else ""
            if finished:
                text += self._restorers.flush((index, name))
            if text or isinstance(given, str):
                delta[name] = text
        for call in delta.get("tool_calls") or ():
            if isinstance(call, dict):
                self._tool_call(index, call, finished)
        for key, value in list(delta.items()):
            if key not in TEXT_DELTAS and key != "tool_calls":
                delta[key] = restore_tree(value, self._mapping)
        if finished:
            self._flush_arguments(index, delta)

    def _tool_call(self, index: Any, call: dict[str, Any], finished: bool) -> None:
        assert self._restorers is not None
        function = call.get("function")
        if not isinstance(function, dict):
            return
        if isinstance(function.get("name"), str):
            function["name"] = restore_tree(function["name"], self._mapping)
        if isinstance(function.get("arguments"), str):
            key = (index, "arguments", call.get("index", 0))
            text = self._restorers.feed(key, function["arguments"], json=True)
            function["arguments"] = text + (self._restorers.flush(key) if finished else "")

    def _flush_arguments(self, index: Any, delta: dict[str, Any]) -> None:
        """Argument text still held back goes out with the finishing chunk."""
        assert self._restorers is not None
        for key in self._restorers.held():
            if isinstance(key, tuple) and key[0] == index and key[1] == "arguments":
                rest = self._restorers.flush(key)
                if rest:
                    calls = delta.setdefault("tool_calls", [])
                    calls.append({"index": key[2], "function": {"arguments": rest}})


# -- embeddings ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Embeddings:
    family: str = "openai"
    action: str = "embeddings"
    path: str = "/v1/embeddings"
    upstream_path: str = "/embeddings"
    passes_headers: tuple[str, ...] = ()

    def read(self, body: JsonObject, raw_size: int) -> CallView:
        model = f.model_name(body)
        value = body.get("input")
        if value in (None, "", []):
            raise f.invalid("input", "is required")
        if not isinstance(value, str | list):
            raise f.invalid("input", "must be a string or an array")
        f.optional(body, "dimensions", int, "dimensions")
        return CallView(action=self.action, model=model, input_tokens_estimate=raw_size // BYTES_PER_TOKEN)

    def slots(self, body: JsonObject) -> TextSlots:
        return collect(body, SHAPE)

    def outgoing(self, body: JsonObject, *, model: str, stream_usage: bool) -> tuple[bytes, bool]:
        return f.canonical(dict(body, model=model)), False

    def answer(self, raw: bytes, mapping: Mapping[str, str]) -> tuple[bytes, Usage | None]:
        body = parse_answer(raw)  # vectors carry no text: nothing to restore
        return raw, usage_of(body.get("usage")) if isinstance(body, dict) else None

    def stream(self, mapping: Mapping[str, str], *, strip_usage: bool) -> ChatStream:
        return ChatStream(mapping, strip_usage)  # embeddings never stream; a provider that does is relayed

    def error_body(self, error: GatewayError) -> bytes:
        return error_body(error)

    def echo(self, body: JsonObject, *, stream: bool) -> UpstreamResponse:
        raw = body.get("input", "")
        inputs = raw if isinstance(raw, list) else [raw]
        data = [
            {"object": "embedding", "index": i, "embedding": echo.vector(orjson.dumps(item))}
            for i, item in enumerate(inputs)
        ]
        tokens = echo.token_counts(body, "")[0]
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        answer = {
            "object": "list",
            "data": data,
            "model": body["model"],
            "usage": usage,
            "echo": {"received": body},
        }
        return echo.json_answer(answer)


CHAT = ChatCompletions()
EMBEDDINGS = Embeddings()
