"""The built-in ``echo`` provider: answers with exactly what an upstream would have received.

It makes the quickstart work without any API key and shows what leaves the building (after
policy and the privacy guard). It speaks the OpenAI dialect, streaming included, and reports
usage like a real provider so accounting, budgets and audit behave as in production.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson

from gateway.upstream.base import UpstreamResponse

_STREAM_PIECE = 24  # characters per streamed delta: small enough to exercise chunk handling


class EchoUpstream:
    name = "echo"
    dialect = "openai"

    async def send(self, path: str, body: bytes, *, stream: bool) -> UpstreamResponse:
        request = orjson.loads(body)
        if path.endswith("/embeddings"):
            return _json(_embeddings(request, len(body)))
        text = orjson.dumps(request, option=orjson.OPT_INDENT_2).decode()
        model = str(request.get("model", "echo"))
        usage = _usage(len(body), len(text))
        if stream:
            return UpstreamResponse(200, "text/event-stream", chunks=_sse(model, text, usage))
        return _json(_completion(model, text, usage))

    async def aclose(self) -> None:
        return None


def _json(payload: dict[str, Any]) -> UpstreamResponse:
    return UpstreamResponse(200, "application/json", body=orjson.dumps(payload))


def _usage(bytes_in: int, chars_out: int) -> dict[str, int]:
    prompt, completion = max(1, bytes_in // 4), max(1, chars_out // 4)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _completion(model: str, text: str, usage: dict[str, int]) -> dict[str, Any]:
    return {
        "id": _id(text),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": usage,
    }


async def _sse(model: str, text: str, usage: dict[str, int]) -> AsyncIterator[bytes]:
    base = {"id": _id(text), "object": "chat.completion.chunk", "created": int(time.time()), "model": model}
    first = True
    for start in range(0, len(text), _STREAM_PIECE):
        delta: dict[str, str] = {"content": text[start : start + _STREAM_PIECE]}
        if first:
            delta["role"] = "assistant"
            first = False
        yield _event({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
    yield _event({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    yield _event({**base, "choices": [], "usage": usage})
    yield b"data: [DONE]\n\n"


def _event(payload: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def _embeddings(request: dict[str, Any], bytes_in: int) -> dict[str, Any]:
    raw = request.get("input", "")
    inputs = raw if isinstance(raw, list) else [raw]
    data = [
        {"object": "embedding", "index": i, "embedding": _vector(orjson.dumps(item))}
        for i, item in enumerate(inputs)
    ]
    tokens = max(1, bytes_in // 4)
    return {
        "object": "list",
        "data": data,
        "model": request.get("model", "echo"),
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        "echo": {"received": request},
    }


def _vector(seed: bytes, dims: int = 8) -> list[float]:
    digest = hashlib.sha256(seed).digest()
    return [round(b / 255.0 * 2 - 1, 6) for b in digest[:dims]]


def _id(text: str) -> str:
    return "chatcmpl-echo-" + hashlib.sha256(text.encode()).hexdigest()[:16]
