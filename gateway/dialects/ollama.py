"""Ollama's native API: ``POST /api/chat``, ``POST /api/generate``, ``POST /api/embed``.

Ollama streams unless a request says ``"stream": false``, as newline-delimited JSON: one
object per line, the last with ``"done": true`` and the counts (``prompt_eval_count`` in,
``eval_count`` out). The output limit is ``options.num_predict``; its special values -1
(no limit) and -2 (fill the context) count as the largest possible request, so a role's
token cap still holds. Tool-call arguments are JSON objects, not strings.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from gateway.dialects import fields as f
from gateway.dialects.fields import JsonObject
from gateway.dialects.framing import NDJSON, Framing
from gateway.dialects.openai import BYTES_PER_TOKEN, parse_answer
from gateway.dialects.restoring import TOKEN_MARK_BYTES, Restorers, restore_tree
from gateway.dialects.slots import SCHEMA_WORDS, Shape, TextSlots, collect
from gateway.domain import CallView, Usage
from gateway.errors import GatewayError
from gateway.upstream import echo
from gateway.upstream.base import UpstreamResponse

ROLES = frozenset({"system", "user", "assistant", "tool"})
_UNLIMITED = (-1, -2)

VOCABULARY = frozenset(
    [
        "model",
        "messages",
        "role",
        "content",
        "images",
        "tool_calls",
        "function",
        "name",
        "arguments",
        "tool_name",
        "thinking",
        "tools",
        "type",
        "description",
        "parameters",
        "format",
        "options",
        "stream",
        "keep_alive",
        "think",
        "prompt",
        "suffix",
        "system",
        "template",
        "context",
        "raw",
        "input",
        "truncate",
        "dimensions",
        "num_predict",
        "num_ctx",
        "temperature",
        "top_k",
        "top_p",
        "min_p",
        "seed",
        "stop",
        "repeat_penalty",
        "presence_penalty",
        "frequency_penalty",
        "mirostat",
        "num_keep",
        "num_batch",
        "num_gpu",
        "main_gpu",
        "use_mmap",
        "num_thread",
    ]
)
SHAPE = Shape(
    vocabulary=VOCABULARY | SCHEMA_WORDS,
    free_form=frozenset({"parameters", "arguments", "format"}),
    binary=frozenset({"images"}),  # base64 images
)


def error_body(error: GatewayError) -> bytes:
    """Ollama's ``{"error": "..."}``, with Skein's code and reasons beside it."""
    fields = error.fields()
    return orjson.dumps({"error": error.message, "code": fields["code"], "reasons": fields["reasons"]})


def usage_of(body: dict[str, Any]) -> Usage | None:
    tokens_in, tokens_out = body.get("prompt_eval_count", 0), body.get("eval_count", 0)
    if not all(isinstance(t, int) and not isinstance(t, bool) and t >= 0 for t in (tokens_in, tokens_out)):
        return None
    if "prompt_eval_count" not in body and "eval_count" not in body:
        return None
    return Usage(tokens_in, tokens_out)


def _num_predict(body: JsonObject) -> int | None:
    options = f.optional(body, "options", dict, "options")
    if not options or "num_predict" not in options:
        return None
    value = options["num_predict"]
    if isinstance(value, int) and not isinstance(value, bool) and value in _UNLIMITED:
        return f.MAX_TOKENS_LIMIT  # no limit: the most any call could ask for
    return f.token_cap(options, "num_predict", "options.num_predict")


def _stream(body: JsonObject) -> bool:
    return True if body.get("stream") is None else f.flag(body, "stream")


@dataclass(frozen=True, slots=True)
class _Base:
    """What the three generation routes share: options, stream default, errors, usage."""

    family: str = "ollama"
    passes_headers: tuple[str, ...] = ()

    def slots(self, body: JsonObject) -> TextSlots:
        return collect(body, SHAPE)

    def outgoing(self, body: JsonObject, *, model: str, stream_usage: bool) -> tuple[bytes, bool]:
        # The stream flag is made explicit: Ollama's default (stream) is what the view decided on.
        return f.canonical(dict(body, model=model, stream=_stream(body))), False

    def answer(self, raw: bytes, mapping: Mapping[str, str]) -> tuple[bytes, Usage | None]:
        body = parse_answer(raw)
        usage = usage_of(body) if isinstance(body, dict) else None
        if not mapping or TOKEN_MARK_BYTES not in raw:
            return raw, usage
        return orjson.dumps(restore_tree(body, mapping)), usage

    def stream(self, mapping: Mapping[str, str], *, strip_usage: bool) -> LineStream:
        return LineStream(mapping)

    def error_body(self, error: GatewayError) -> bytes:
        return error_body(error)


@dataclass(frozen=True, slots=True)
class Chat(_Base):
    action: str = "chat"
    path: str = "/api/chat"
    upstream_path: str = "/api/chat"

    def read(self, body: JsonObject, raw_size: int) -> CallView:
        model = f.model_name(body)
        for index, message in enumerate(f.objects(body.get("messages"), "messages", required=True)):
            f.one_of(message.get("role"), ROLES, f"messages[{index}].role")
            f.optional(message, "content", str, f"messages[{index}].content")
            for at, call in enumerate(f.objects(message.get("tool_calls"), f"messages[{index}].tool_calls")):
                function = (
                    f.optional(call, "function", dict, f"messages[{index}].tool_calls[{at}].function") or {}
                )
                f.optional(
                    function, "arguments", dict, f"messages[{index}].tool_calls[{at}].function.arguments"
                )
        tools = []
        for index, tool in enumerate(f.objects(body.get("tools"), "tools")):
            function = f.optional(tool, "function", dict, f"tools[{index}].function")
            if function is not None:
                tools.append(f.identifier(function.get("name"), f"tools[{index}].function.name"))
        return CallView(
            action=self.action,
            model=model,
            stream=_stream(body),
            max_tokens=_num_predict(body),
            input_tokens_estimate=raw_size // BYTES_PER_TOKEN,
            tools=tuple(tools),
        )

    def echo(self, body: JsonObject, *, stream: bool) -> UpstreamResponse:
        text = echo.echo_text(body)
        return _echo(body, text, stream, lambda piece: {"message": {"role": "assistant", "content": piece}})


@dataclass(frozen=True, slots=True)
class Generate(_Base):
    action: str = "completions"
    path: str = "/api/generate"
    upstream_path: str = "/api/generate"

    def read(self, body: JsonObject, raw_size: int) -> CallView:
        model = f.model_name(body)
        f.optional(body, "prompt", str, "prompt")
        f.optional(body, "system", str, "system")
        return CallView(
            action=self.action,
            model=model,
            stream=_stream(body),
            max_tokens=_num_predict(body),
            input_tokens_estimate=raw_size // BYTES_PER_TOKEN,
        )

    def echo(self, body: JsonObject, *, stream: bool) -> UpstreamResponse:
        text = echo.echo_text(body)
        return _echo(body, text, stream, lambda piece: {"response": piece})


@dataclass(frozen=True, slots=True)
class Embed(_Base):
    action: str = "embeddings"
    path: str = "/api/embed"
    upstream_path: str = "/api/embed"

    def read(self, body: JsonObject, raw_size: int) -> CallView:
        model = f.model_name(body)
        value = body.get("input")
        if value in (None, "", []):
            raise f.invalid("input", "is required")
        if not isinstance(value, str | list):
            raise f.invalid("input", "must be a string or an array of strings")
        return CallView(action=self.action, model=model, input_tokens_estimate=raw_size // BYTES_PER_TOKEN)

    def outgoing(self, body: JsonObject, *, model: str, stream_usage: bool) -> tuple[bytes, bool]:
        return f.canonical(dict(body, model=model)), False

    def echo(self, body: JsonObject, *, stream: bool) -> UpstreamResponse:
        raw = body.get("input", "")
        inputs = raw if isinstance(raw, list) else [raw]
        vectors = [echo.vector(orjson.dumps(item)) for item in inputs]
        count = echo.token_counts(body, "")[0]
        answer = {"model": body["model"], "embeddings": vectors, "prompt_eval_count": count}
        return echo.json_answer({**answer, "echo": {"received": body}})  # what left the building


def _echo(body: JsonObject, text: str, stream: bool, piece: Any) -> UpstreamResponse:
    tokens_in, tokens_out = echo.token_counts(body, text)
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    head = {"model": body["model"], "created_at": created}
    last = {**head, **piece(""), "done": True, "done_reason": "stop"}
    last.update(prompt_eval_count=tokens_in, eval_count=tokens_out)
    if not stream:
        return echo.json_answer({**last, **piece(text)})
    return echo.stream_answer(_lines(head, text, piece, last), "application/x-ndjson")


async def _lines(head: dict[str, Any], text: str, piece: Any, last: dict[str, Any]) -> AsyncIterator[bytes]:
    for part in echo.pieces(text):
        yield orjson.dumps({**head, **piece(part), "done": False}) + b"\n"
    yield orjson.dumps(last) + b"\n"


class LineStream:
    """An NDJSON stream: usage from the ``done`` line; pseudonyms restored in the streamed
    ``message.content``, ``message.thinking`` and ``response`` texts."""

    framing: Framing = NDJSON

    def __init__(self, mapping: Mapping[str, str]) -> None:
        self._mapping = mapping
        self._restorers = Restorers(mapping) if mapping else None
        self.marker: bytes | None = None if mapping else b'"eval_count"'  # only the last line counts
        self.usage: Usage | None = None

    def handle(self, unit: bytes) -> bytes | None:
        line = unit.strip()
        if not line:
            return unit
        try:
            payload = orjson.loads(line)
        except orjson.JSONDecodeError:
            return unit
        if not isinstance(payload, dict):
            return unit
        done = payload.get("done") is True
        if done:
            self.usage = usage_of(payload) or self.usage
        if self._restorers is None:
            return unit
        message = payload.get("message")
        if isinstance(message, dict):
            for name in ("content", "thinking"):
                self._text(message, name, ("message", name), done)
            if "tool_calls" in message:
                message["tool_calls"] = restore_tree(message["tool_calls"], self._mapping)
        self._text(payload, "response", ("response",), done)
        return orjson.dumps(payload) + b"\n"

    def finish(self) -> bytes:
        if self._restorers is None:
            return b""
        held = self._restorers.flush_all()
        content = "".join(text for key, text in held.items() if key == ("message", "content"))
        response = "".join(text for key, text in held.items() if key == ("response",))
        if not content and not response:
            return b""
        payload: dict[str, Any] = {"done": False}
        if content:
            payload["message"] = {"role": "assistant", "content": content}
        if response:
            payload["response"] = response
        return orjson.dumps(payload) + b"\n"

    def error(self, error: GatewayError) -> bytes:
        return error_body(error) + b"\n"

    def _text(self, container: dict[str, Any], name: str, key: tuple[str, ...], done: bool) -> None:
        assert self._restorers is not None
        given = container.get(name)
        text = self._restorers.feed(key, given) if isinstance(given, str) else ""
        if done:
            text += self._restorers.flush(key)
        if text or isinstance(given, str):
            container[name] = text


CHAT = Chat()
GENERATE = Generate()
EMBED = Embed()
