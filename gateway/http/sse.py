"""Server-sent events, relayed as they arrive.

Upstream chunks do not line up with events: one chunk may hold several events or half of
one. ``SseRelay`` releases every *complete* event at once and holds back only an unfinished
tail, so the first token reaches the client as soon as its event is complete. A handler may
inspect or rewrite each ``data:`` payload (usage accounting, pseudonym restoration) or drop it
(the usage chunk we asked for on the caller's behalf). With a ``marker``, blocks that do not
contain it skip the per-event work entirely: the common case costs one substring search.
"""

from __future__ import annotations

from collections.abc import Callable

DataHandler = Callable[[bytes], bytes | None]  # payload in; payload out, or None to drop the event

_SEPARATORS = (b"\n\n", b"\r\n\r\n")
_DATA = b"data:"


class SseRelay:
    __slots__ = ("_before_done", "_handle", "_marker", "_tail")

    def __init__(
        self,
        handle: DataHandler,
        marker: bytes | None = None,
        before_done: Callable[[], bytes] | None = None,
    ) -> None:
        self._handle = handle
        self._marker = marker
        self._before_done = before_done  # bytes to send just before ``data: [DONE]``
        self._tail = b""

    def feed(self, chunk: bytes) -> bytes:
        buffer = self._tail + chunk if self._tail else chunk
        cut = _last_boundary(buffer)
        if cut < 0:
            self._tail = buffer
            return b""
        self._tail = buffer[cut:]
        return self._process(buffer[:cut])

    def flush(self) -> bytes:
        """At end of stream: whatever is left, processed as a final event."""
        tail, self._tail = self._tail, b""
        return self._process(tail) if tail else b""

    def _process(self, block: bytes) -> bytes:
        if self._marker is not None and self._marker not in block:
            return block
        out = []
        for event in _split(block):
            rewritten = self._event(event)
            if rewritten is not None:
                out.append(rewritten)
        return b"".join(out)

    def _event(self, event: bytes) -> bytes | None:
        body = event.rstrip(b"\r\n")
        if not body.startswith(_DATA) or b"\n" in body:
            return event  # comments, multi-line and non-data events pass untouched
        payload = body[len(_DATA) :].lstrip(b" ")
        if payload == b"[DONE]":
            return self._before_done() + event if self._before_done is not None else event
        result = self._handle(payload)
        if result is None:
            return None
        if result is payload:
            return event
        return b"data: " + result + event[len(body) :]


def _last_boundary(buffer: bytes) -> int:
    """Index just past the last event separator, or -1."""
    best = -1
    for sep in _SEPARATORS:
        at = buffer.rfind(sep)
        if at >= 0:
            best = max(best, at + len(sep))
    return best


def _split(block: bytes) -> list[bytes]:
    """Events with their separators kept, so passthrough is byte-exact."""
    events: list[bytes] = []
    start = 0
    while start < len(block):
        ends = [block.find(sep, start) for sep in _SEPARATORS]
        found = [(e, len(sep)) for e, sep in zip(ends, _SEPARATORS, strict=True) if e >= 0]
        if not found:
            events.append(block[start:])
            break
        end, size = min(found)
        events.append(block[start : end + size])
        start = end + size
    return events
