"""Where the text is in an OpenAI body: what the guard masks and what restoration rewrites.

Request side, every string a model would read: message contents (plain strings and the text
items of content-part arrays) for every role, so system prompts and tool results are
included; the string values inside tool-call arguments (JSON held in a string: the JSON
stays valid); tool definitions' descriptions; embeddings input.

Response side: message contents and tool-call arguments, whole (non-streaming) or as
deltas (streaming, restored by a ``StreamRestorer`` per choice and per tool call so a token
split across events is still restored).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from guard import JsonStrings, StreamRestorer, json_string_escape, restore


@dataclass(slots=True)
class TextSlots:
    """The texts of one body, and where to write their masked versions back."""

    texts: list[str] = field(default_factory=list)
    _plain: list[tuple[Any, Any, int]] = field(default_factory=list)  # (container, key, index)
    _json: list[tuple[Any, Any, JsonStrings, int]] = field(default_factory=list)  # + first index

    def add(self, container: Any, key: Any) -> None:
        value = container[key]
        if isinstance(value, str) and value:
            self._plain.append((container, key, len(self.texts)))
            self.texts.append(value)

    def add_json(self, container: Any, key: Any) -> None:
        value = container[key]
        if not isinstance(value, str) or not value:
            return
        doc = JsonStrings.parse(value)
        if doc is None:
            self.add(container, key)  # not JSON: guard it as text
            return
        self._json.append((container, key, doc, len(self.texts)))
        self.texts.extend(doc.parts)

    def write_back(self, masked: tuple[str, ...] | list[str]) -> None:
        for container, key, index in self._plain:
            container[key] = masked[index]
        for container, key, doc, start in self._json:
            container[key] = doc.rebuild(list(masked[start : start + len(doc.parts)]))


def chat_slots(body: dict[str, Any]) -> TextSlots:
    slots = TextSlots()
    for message in _dicts(body.get("messages")):
        _content(slots, message)
        for call in _dicts(message.get("tool_calls")):
            function = call.get("function")
            if isinstance(function, dict) and "arguments" in function:
                slots.add_json(function, "arguments")
    for tool in _dicts(body.get("tools")):
        function = tool.get("function")
        if isinstance(function, dict) and "description" in function:
            slots.add(function, "description")
    return slots


def embeddings_slots(body: dict[str, Any]) -> TextSlots:
    slots = TextSlots()
    value = body.get("input")
    if isinstance(value, str):
        slots.add(body, "input")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, str):
                slots.add(value, index)
    return slots


def _content(slots: TextSlots, message: dict[str, Any]) -> None:
    content = message.get("content")
    if isinstance(content, str):
        slots.add(message, "content")
    elif isinstance(content, list):
        for part in _dicts(content):
            if part.get("type") == "text" and "text" in part:
                slots.add(part, "text")


def _dicts(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, list):
        yield from (item for item in value if isinstance(item, dict))


# -- responses --------------------------------------------------------------------------


def restore_completion(raw: bytes, mapping: Mapping[str, str]) -> bytes:
    """Put the original values back into a non-streaming chat completion."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw
    for choice in _dicts(body.get("choices") if isinstance(body, dict) else None):
        message = choice.get("message")
        if isinstance(message, dict):
            _restore_message(message, mapping)
    return orjson.dumps(body)


def _restore_message(message: dict[str, Any], mapping: Mapping[str, str]) -> None:
    if isinstance(message.get("content"), str):
        message["content"] = restore(message["content"], mapping)
    for call in _dicts(message.get("tool_calls")):
        function = call.get("function")
        if isinstance(function, dict) and isinstance(function.get("arguments"), str):
            function["arguments"] = restore(function["arguments"], mapping, escape=json_string_escape)


class StreamRestoration:
    """Restores pseudonyms in chat-completion chunks (one SSE ``data:`` payload at a time)."""

    def __init__(self, mapping: Mapping[str, str]) -> None:
        self._mapping = mapping
        self._content: dict[int, StreamRestorer] = {}
        self._arguments: dict[tuple[int, int], StreamRestorer] = {}

    def event(self, payload: bytes) -> bytes:
        try:
            chunk = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return payload
        for choice in _dicts(chunk.get("choices") if isinstance(chunk, dict) else None):
            self._choice(choice)
        return orjson.dumps(chunk)

    def leftover(self) -> bytes:
        """An extra chunk with anything still held back when the stream ends without a finish."""
        held = {index: r.flush() for index, r in self._content.items()}
        held = {index: text for index, text in held.items() if text}
        if not held:
            return b""
        choices = [
            {"index": i, "delta": {"content": text}, "finish_reason": None} for i, text in held.items()
        ]
        return b"data: " + orjson.dumps({"object": "chat.completion.chunk", "choices": choices}) + b"\n\n"

    def _choice(self, choice: dict[str, Any]) -> None:
        index = choice.get("index", 0)
        delta = choice.get("delta")
        if not isinstance(delta, dict):
            return
        finished = choice.get("finish_reason") is not None
        content = self._restorer(self._content, index, None)
        text = content.feed(delta["content"]) if isinstance(delta.get("content"), str) else ""
        if finished:
            text += content.flush()
        if text or isinstance(delta.get("content"), str):
            delta["content"] = text
        for call in _dicts(delta.get("tool_calls")):
            self._tool_call(index, call, finished)
        if finished:
            self._flush_arguments(index, delta)

    def _flush_arguments(self, index: int, delta: dict[str, Any]) -> None:
        """Tool-call argument text still held back goes out with the finishing chunk."""
        for (choice, call_index), restorer in self._arguments.items():
            rest = restorer.flush() if choice == index else ""
            if rest:
                calls = delta.setdefault("tool_calls", [])
                calls.append({"index": call_index, "function": {"arguments": rest}})

    def _tool_call(self, index: int, call: dict[str, Any], finished: bool) -> None:
        function = call.get("function")
        if not isinstance(function, dict) or not isinstance(function.get("arguments"), str):
            return
        restorer = self._restorer(self._arguments, (index, call.get("index", 0)), json_string_escape)
        function["arguments"] = restorer.feed(function["arguments"]) + (restorer.flush() if finished else "")

    def _restorer(
        self, table: dict[Any, StreamRestorer], key: Any, escape: Callable[[str], str] | None
    ) -> StreamRestorer:
        restorer = table.get(key)
        if restorer is None:
            restorer = table[key] = StreamRestorer(self._mapping, escape=escape)
        return restorer
