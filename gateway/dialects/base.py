"""The dialect seam: what a proxied route's wire format must tell the pipeline.

A :class:`Dialect` is one request shape that callers and providers speak (OpenAI chat
completions, Anthropic messages, Ollama chat...). It turns a request body into the neutral
:class:`~gateway.domain.CallView` the stages decide on, finds every string the provider will
read (for the guard), writes the canonical body that goes upstream, and turns answers back:
pseudonyms restored and usage read from a whole answer or, through a :class:`StreamCodec`,
from each streamed event, parsed once. It also renders errors and the built-in echo
provider's answers in its own shape.

Stages never look at a raw body; they see the view, the slots and the bytes a dialect
produced. A new dialect is a new module and one line in ``gateway/dialects/__init__.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from gateway.dialects.fields import JsonObject
from gateway.dialects.framing import Framing
from gateway.dialects.slots import TextSlots
from gateway.domain import CallView, Usage
from gateway.errors import GatewayError
from gateway.upstream.base import UpstreamResponse

#: Provider API families; a provider's ``dialect`` setting names one.
FAMILIES = ("openai", "anthropic", "ollama")


class StreamCodec(Protocol):
    """One stream's state: restorers per piece of text, the usage seen so far."""

    framing: Framing
    marker: bytes | None  # blocks without it need no per-event work (None: every event does)
    usage: Usage | None

    def handle(self, unit: bytes) -> bytes | None:
        """One complete event or line: what to send instead (None drops it)."""
        ...

    def finish(self) -> bytes:
        """The upstream stream ended: anything still held back, as events of the dialect."""
        ...

    def error(self, error: GatewayError) -> bytes:
        """A failure after the status line was sent: the dialect's in-stream error event."""
        ...


class Dialect(Protocol):
    @property
    def family(self) -> str:
        """The provider API family this speaks (a provider's ``dialect`` setting)."""
        ...

    @property
    def action(self) -> str:
        """The policy action: chat, embeddings, responses, ..."""
        ...

    @property
    def path(self) -> str:
        """The gateway's route."""
        ...

    @property
    def upstream_path(self) -> str:
        """The provider's path, relative to its base URL."""
        ...

    @property
    def passes_headers(self) -> tuple[str, ...]:
        """Caller headers the provider needs (``anthropic-version``...)."""
        ...

    def read(self, body: JsonObject, raw_size: int) -> CallView:
        """Validate what the gateway relies on (400 naming the field) and describe the call."""
        ...

    def slots(self, body: JsonObject) -> TextSlots:
        """Every string the provider will read, for the guard."""
        ...

    def outgoing(self, body: JsonObject, *, model: str, stream_usage: bool) -> tuple[bytes, bool]:
        """The canonical bytes for the provider (``model``: its own name for the served model),
        and whether the gateway asked for stream usage on the caller's behalf."""
        ...

    def answer(self, raw: bytes, mapping: Mapping[str, str]) -> tuple[bytes, Usage | None]:
        """A whole successful answer: restored, and its usage (UpstreamError if not JSON)."""
        ...

    def stream(self, mapping: Mapping[str, str], *, strip_usage: bool) -> StreamCodec: ...

    def error_body(self, error: GatewayError) -> bytes: ...

    def echo(self, body: JsonObject, *, stream: bool) -> UpstreamResponse:
        """The built-in echo provider's answer: exactly what a provider would have received."""
        ...
