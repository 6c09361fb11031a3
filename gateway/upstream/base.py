"""The seam between the pipeline and whatever answers a call: an HTTP provider or the echo provider."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(slots=True)
class UpstreamResponse:
    """What came back. Exactly one of ``body`` (buffered) and ``chunks`` (streamed) is set."""

    status: int
    content_type: str
    body: bytes | None = None
    chunks: AsyncIterator[bytes] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    release: Callable[[], None] = lambda: None  # hands the connection back to the pool

    @property
    def is_stream(self) -> bool:
        return self.chunks is not None


class WireFormat(Protocol):
    """What an upstream needs of the request's dialect (``gateway.dialects.base.Dialect``)."""

    @property
    def family(self) -> str: ...

    @property
    def upstream_path(self) -> str: ...

    def echo(self, body: dict[str, Any], *, stream: bool) -> UpstreamResponse: ...


@dataclass(frozen=True, slots=True)
class UpstreamRequest:
    dialect: WireFormat
    body: bytes  # the canonical body: exactly what policy and the guard saw
    stream: bool
    headers: Mapping[str, str] = field(default_factory=dict)  # caller headers the dialect passes on


class Upstream(Protocol):
    """One configured provider, speaking one API family (its ``dialect`` setting)."""

    name: str

    def speaks(self, family: str) -> bool:
        """Whether this provider serves the API family (openai, anthropic, ollama)."""
        ...

    async def send(self, request: UpstreamRequest) -> UpstreamResponse: ...

    async def aclose(self) -> None: ...
