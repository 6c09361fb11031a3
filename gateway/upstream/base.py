"""The seam between the pipeline and whatever answers a call: an HTTP provider or the echo provider."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Protocol


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


class Upstream(Protocol):
    """One configured provider. ``path`` is relative to the provider's base URL (``/chat/completions``)."""

    name: str
    dialect: str

    async def send(self, path: str, body: bytes, *, stream: bool) -> UpstreamResponse: ...

    async def aclose(self) -> None: ...
