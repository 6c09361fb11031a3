"""Every dialect's stream, restored: a pseudonym split at any byte offset comes back whole,
usage is read, and text held back at the end of a piece is released before the piece ends."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from gateway.dialects import anthropic, ollama, openai, responses
from gateway.dialects.base import Dialect
from gateway.dialects.framing import EventRelay, SseEvent
from gateway.upstream.echo import echo_text, pieces

TOKEN = "PERSON_v1_0123abcd"
VALUE = 'Ann "O\'Neil" \\ Smith'
MAPPING = {TOKEN: VALUE}
SAID = " ".join([TOKEN] * 4)  # four pseudonyms: the echo's 24-character pieces split some of them


def _sse_payloads(raw: bytes) -> list[dict[str, Any]]:
    events = [SseEvent.parse(unit + b"\n\n") for unit in raw.split(b"\n\n") if unit.strip()]
    return [orjson.loads(e.data) for e in events if e.data and e.data != b"[DONE]"]


def _openai_text(raw: bytes) -> str:
    return "".join(c["delta"].get("content") or "" for p in _sse_payloads(raw) for c in p.get("choices", []))


def _anthropic_text(raw: bytes) -> str:
    return "".join(
        p["delta"].get("text", "") for p in _sse_payloads(raw) if p.get("type") == "content_block_delta"
    )


def _responses_text(raw: bytes) -> str:
    return "".join(p["delta"] for p in _sse_payloads(raw) if p.get("type") == "response.output_text.delta")


def _ollama_text(raw: bytes) -> str:
    lines = [orjson.loads(line) for line in raw.splitlines() if line.strip()]
    return "".join(line.get("message", {}).get("content", "") for line in lines)


CASES: list[tuple[Dialect, Callable[[bytes], str], dict[str, Any]]] = [
    (openai.CHAT, _openai_text, {"model": "m", "messages": [{"role": "user", "content": SAID}]}),
    (
        anthropic.MESSAGES,
        _anthropic_text,
        {"model": "m", "max_tokens": 9, "messages": [{"role": "user", "content": SAID}]},
    ),
    (responses.RESPONSES, _responses_text, {"model": "m", "input": SAID}),
    (ollama.CHAT, _ollama_text, {"model": "m", "messages": [{"role": "user", "content": SAID}]}),
]


async def _collect(dialect: Dialect, body: dict[str, Any]) -> bytes:
    answer = dialect.echo(body, stream=True)
    assert answer.chunks is not None
    return b"".join([chunk async for chunk in answer.chunks])


def _relay(dialect: Dialect, chunks: list[bytes]) -> tuple[bytes, Any]:
    codec = dialect.stream(MAPPING, strip_usage=False)
    relay = EventRelay(codec.framing, codec.handle, marker=codec.marker, finish=codec.finish)
    out = b"".join(relay.feed(chunk) for chunk in chunks) + relay.flush()
    return out, codec.usage


@pytest.mark.parametrize(("dialect", "text_of", "body"), CASES, ids=lambda c: getattr(c, "path", ""))
def test_restored_at_every_split(
    dialect: Dialect, text_of: Callable[[bytes], str], body: dict[str, Any]
) -> None:
    raw = asyncio.run(_collect(dialect, body))
    expected = echo_text(body).replace(TOKEN, VALUE)
    whole = sum(piece.count(TOKEN) for piece in pieces(echo_text(body)))
    assert text_of(raw).count(TOKEN) == 4 and whole < 4  # some arrive split over two events
    for cut in range(0, len(raw) + 1, 7):
        out, usage = _relay(dialect, [raw[:cut], raw[cut:]])
        assert text_of(out) == expected, cut
        assert usage is not None and usage.tokens_in > 0 and usage.tokens_out > 0


@pytest.mark.parametrize(("dialect", "text_of", "body"), CASES, ids=lambda c: getattr(c, "path", ""))
def test_byte_by_byte(dialect: Dialect, text_of: Callable[[bytes], str], body: dict[str, Any]) -> None:
    raw = asyncio.run(_collect(dialect, body))
    out, _ = _relay(dialect, [raw[i : i + 1] for i in range(len(raw))])
    assert text_of(out) == echo_text(body).replace(TOKEN, VALUE)


def test_openai_tool_call_arguments_are_restored_json_escaped() -> None:
    pieces = ['{"who": "PERS', "ON_v1_0123", 'abcd"}']
    events = [
        {
            "choices": [
                {
                    "index": 0,
                    "delta": {"tool_calls": [{"index": 0, "function": {"arguments": p}}]},
                    "finish_reason": None,
                }
            ]
        }
        for p in pieces
    ]
    events.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]})
    raw = b"".join(b"data: " + orjson.dumps(e) + b"\n\n" for e in events) + b"data: [DONE]\n\n"
    out, _ = _relay(openai.CHAT, [raw])
    args = "".join(
        call["function"].get("arguments", "")
        for p in _sse_payloads(out)
        for c in p["choices"]
        for call in c["delta"].get("tool_calls", [])
    )
    assert orjson.loads(args) == {"who": VALUE}


def test_anthropic_input_json_deltas_are_restored_json_escaped() -> None:
    def event(kind: str, payload: dict[str, Any]) -> bytes:
        return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps({"type": kind, **payload}) + b"\n\n"

    pieces = ['{"who": "PERSON_v', '1_0123abcd"}']
    raw = event(
        "content_block_start",
        {"index": 1, "content_block": {"type": "tool_use", "id": "t", "name": "n", "input": {}}},
    )
    for piece in pieces:
        raw += event(
            "content_block_delta", {"index": 1, "delta": {"type": "input_json_delta", "partial_json": piece}}
        )
    raw += event("content_block_stop", {"index": 1})
    out, _ = _relay(anthropic.MESSAGES, [raw])
    partial = "".join(
        p["delta"]["partial_json"] for p in _sse_payloads(out) if p.get("type") == "content_block_delta"
    )
    assert orjson.loads(partial) == {"who": VALUE}
    kinds = [p["type"] for p in _sse_payloads(out)]
    assert kinds[-1] == "content_block_stop"  # held-back text went out before the block ended


def test_openai_usage_chunk_we_asked_for_is_removed() -> None:
    raw = b'data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2}}\n\ndata: [DONE]\n\n'
    codec = openai.CHAT.stream({}, strip_usage=True)
    relay = EventRelay(codec.framing, codec.handle, marker=codec.marker, finish=codec.finish)
    assert relay.feed(raw) + relay.flush() == b"data: [DONE]\n\n"
    assert codec.usage is not None and (codec.usage.tokens_in, codec.usage.tokens_out) == (3, 2)
