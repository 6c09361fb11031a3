"""Streams relayed unit by unit: server-sent events or NDJSON lines, as they arrive.

Upstream chunks do not line up with events: one chunk may hold several events or half of
one. :class:`EventRelay` releases every *complete* unit at once and holds back only an
unfinished tail, so the first token reaches the client as soon as its event is complete.
A dialect's codec sees each unit once and returns what to send in its place (the unit
itself, a rewritten one, or nothing). With a ``marker``, a block that does not contain it
skips the per-unit work entirely: the common case costs one substring search.

SSE events are parsed by the specification: ``event:`` names the event, several ``data:``
lines are joined with a newline (Anthropic's named events, multi-line payloads); a rewritten
event keeps its other fields.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from gateway.errors import UpstreamError

Handler = Callable[[bytes], bytes | None]  # one unit in (separator included); bytes out, or None to drop

#: The largest unit an upstream may send; a stream that never ends an event is cut here.
MAX_UNIT_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Framing:
    name: str
    separators: tuple[bytes, ...]


SSE = Framing("sse", (b"\n\n", b"\r\n\r\n"))
NDJSON = Framing("ndjson", (b"\n",))


class EventRelay:
    __slots__ = ("_finish", "_handle", "_limit", "_marker", "_separators", "_tail")

    def __init__(
        self,
        framing: Framing,
        handle: Handler,
        *,
        marker: bytes | None = None,
        finish: Callable[[], bytes] | None = None,
        limit: int = MAX_UNIT_BYTES,
    ) -> None:
        self._separators = framing.separators
        self._handle = handle
        self._marker = marker
        self._finish = finish  # bytes to send when the upstream stream ends
        self._limit = limit
        self._tail = b""

    def feed(self, chunk: bytes) -> bytes:
        buffer = self._tail + chunk if self._tail else chunk
        cut = self._last_boundary(buffer)
        if cut < 0:
            if len(buffer) > self._limit:
                raise UpstreamError(
                    f"the provider sent a stream event larger than {self._limit} bytes",
                    reason="upstream_protocol",
                )
            self._tail = buffer
            return b""
        self._tail = buffer[cut:]
        return self._process(buffer[:cut])

    def flush(self) -> bytes:
        """At the end of the stream: an unfinished last unit, then the codec's own finish."""
        tail, self._tail = self._tail, b""
        out = self._process(tail) if tail.strip() else tail
        return out + self._finish() if self._finish is not None else out

    def _process(self, block: bytes) -> bytes:
        if self._marker is not None and self._marker not in block:
            return block
        out = []
        for unit in self._split(block):
            rewritten = self._handle(unit)
            if rewritten is not None:
                out.append(rewritten)
        return b"".join(out)

    def _last_boundary(self, buffer: bytes) -> int:
        best = -1
        for sep in self._separators:
            at = buffer.rfind(sep)
            if at >= 0:
                best = max(best, at + len(sep))
        return best

    def _split(self, block: bytes) -> list[bytes]:
        """Units with their separators kept, so passthrough is byte-exact."""
        units: list[bytes] = []
        start = 0
        while start < len(block):
            end, size = -1, 0
            for sep in self._separators:
                at = block.find(sep, start)
                if at >= 0 and (end < 0 or at < end):
                    end, size = at, len(sep)
            if end < 0:
                units.append(block[start:])
                break
            units.append(block[start : end + size])
            start = end + size
        return units


@dataclass(frozen=True, slots=True)
class SseEvent:
    """One parsed server-sent event: its name (``event:``), its data, the other lines."""

    name: str | None
    data: bytes
    fields: tuple[bytes, ...]  # id:, retry:, comments: kept as they came
    ending: bytes  # the separator

    @classmethod
    def parse(cls, unit: bytes) -> SseEvent:
        body = unit.rstrip(b"\r\n")
        ending = unit[len(body) :]
        name: str | None = None
        data: list[bytes] = []
        other: list[bytes] = []
        for line in body.splitlines():
            if line.startswith(b"data:"):
                data.append(_value(line[5:]))
            elif line.startswith(b"event:"):
                name = _value(line[6:]).decode("utf-8", "replace")
            else:
                other.append(line)
        return cls(name, b"\n".join(data), tuple(other), ending or b"\n\n")

    def json_object(self) -> dict[str, Any] | None:
        """The data as a JSON object; None for anything else (a keep-alive, ``[DONE]``, a
        provider's own text): such events are not ours to judge and pass on as they came."""
        try:
            payload = orjson.loads(self.data)
        except orjson.JSONDecodeError:
            return None
        return payload if isinstance(payload, dict) else None

    def render(self, data: bytes) -> bytes:
        lines = list(self.fields)
        if self.name is not None:
            lines.append(b"event: " + self.name.encode())
        lines.extend(b"data: " + line for line in data.split(b"\n"))
        return b"\n".join(lines) + self.ending


def sse_event(data: bytes, name: str | None = None) -> bytes:
    """A new event (an error at the end of a stream, text held back until the end)."""
    return SseEvent(name, data, (), b"\n\n").render(data)


def _value(raw: bytes) -> bytes:
    return raw[1:] if raw.startswith(b" ") else raw
