"""The built-in ``echo`` provider: answers with exactly what an upstream would have received.

It makes the quickstart work without any API key and shows what leaves the building (after
policy and the privacy guard). It speaks every dialect, streaming included: each dialect
renders the echo in its own answer shape (``Dialect.echo``) and reports usage like a real
provider, so accounting, budgets and audit behave as in production.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterable
from typing import Any

import orjson

from gateway.upstream.base import UpstreamRequest, UpstreamResponse

ECHO = "echo"
STREAM_PIECE = 24  # characters per streamed delta: small enough to exercise chunk handling


class EchoUpstream:
    name = ECHO

    def speaks(self, family: str) -> bool:
        return True  # every dialect renders its own echo

    async def send(self, request: UpstreamRequest) -> UpstreamResponse:
        return request.dialect.echo(orjson.loads(request.body), stream=request.stream)

    async def aclose(self) -> None:
        return None


def echo_text(body: dict[str, Any]) -> str:
    """The request as the provider would have received it, readable."""
    return orjson.dumps(body, option=orjson.OPT_INDENT_2).decode()


def token_counts(body: dict[str, Any], text: str) -> tuple[int, int]:
    """(input, output) tokens, estimated like a provider would count them (4 bytes a token)."""
    return max(1, len(orjson.dumps(body)) // 4), max(1, len(text) // 4)


def pieces(text: str) -> Iterable[str]:
    return (text[start : start + STREAM_PIECE] for start in range(0, len(text), STREAM_PIECE))


def echo_id(text: str, prefix: str) -> str:
    return prefix + hashlib.sha256(text.encode()).hexdigest()[:16]


def vector(seed: bytes, dims: int = 8) -> list[float]:
    """A deterministic embedding."""
    digest = hashlib.sha256(seed).digest()
    return [round(b / 255.0 * 2 - 1, 6) for b in digest[:dims]]


def json_answer(payload: dict[str, Any]) -> UpstreamResponse:
    return UpstreamResponse(200, "application/json", body=orjson.dumps(payload))


def stream_answer(events: AsyncIterator[bytes], media_type: str = "text/event-stream") -> UpstreamResponse:
    return UpstreamResponse(200, media_type, chunks=events)
