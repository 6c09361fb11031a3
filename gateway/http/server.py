"""The HTTP/1.1 server's own limits: what uvicorn's httptools protocol does not have.

uvicorn + httptools is kept for speed (bench/), but it reads request headers with no time
limit and no size limit, has no cap on connections and holds a connection whose body never
arrives forever. ``LimitedHttpToolsProtocol`` adds those per connection. One deadline timer
follows the phase the connection is in:

======================================  =================  ===============================
phase                                   limit              when it is exceeded
======================================  =================  ===============================
no request in progress (new, or after   ``idle_timeout``   closed without a word
a response: uvicorn's keep-alive)
first read of a request .. its headers  ``header_timeout`` 408 ``header_timeout``
end of its headers .. end of its body   ``body_timeout``   408 ``body_timeout``
======================================  =================  ===============================

and as bytes arrive:

* request line + headers over ``max_header_bytes``: 431 ``headers_too_large``, checked on
  every read *before* the parser has buffered much more (httptools accumulates a header that
  is still arriving; a 10 MB partial header would otherwise sit in memory);
* more than ``max_headers`` header fields: 431 ``too_many_headers``;
* a connection beyond ``max_connections``: 503 ``too_many_connections`` with ``Retry-After``;
* bytes that are not HTTP/1.1: 400 ``malformed_http``;
* a response the client stops reading: the connection is dropped once the send buffer has
  stayed full for ``write_timeout`` (the slow-read variant of slowloris).

A refusal is written in the gateway's error format; then the connection closes in two steps
(a "lingering close", as nginx does): our side is shut for writing at once and whatever the
client still sends is read and dropped for up to ``LINGER_SECONDS``. Closing at once would
make the kernel answer the unread bytes with a reset, which can destroy the response before
the client has read it. Refusals happen below the application, so they are not audited.
"""

from __future__ import annotations

import asyncio
import logging
import resource
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import orjson
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from gateway.errors import BadRequest, GatewayError, HeadersTooLarge, RequestTimeout, Unavailable
from gateway.settings import ServerSettings

log = logging.getLogger("skein.server")

# How long a refused connection may keep sending before it is cut: enough for a client to
# read a short error after its last write, short enough that refused connections stay cheap.
LINGER_SECONDS = 2.0

_HEADER_OVERHEAD = 4  # ": " and CRLF around each header field


@dataclass(frozen=True, slots=True)
class ServerLimits:
    header_timeout: float
    body_timeout: float
    idle_timeout: float
    write_timeout: float
    max_header_bytes: int
    max_headers: int
    max_connections: int
    retry_after_seconds: int

    @classmethod
    def from_settings(cls, server: ServerSettings) -> ServerLimits:
        return cls(
            header_timeout=server.header_timeout_seconds,
            body_timeout=server.body_timeout_seconds,
            idle_timeout=server.idle_timeout_seconds,
            write_timeout=server.write_timeout_seconds,
            max_header_bytes=server.max_header_bytes,
            max_headers=server.max_headers,
            max_connections=server.max_connections,
            retry_after_seconds=server.retry_after_seconds,
        )


class Refusals(Collector):
    """Connections refused by reason, as ``skein_connection_refusals_total{reason}``.

    The server exists before the app's lifespan makes its metrics registry, so the app
    registers this collector, which reads the counts at scrape time."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def count(self, reason: str) -> None:
        self.counts[reason] += 1

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "skein_connection_refusals",
            "Connections refused before a request reached the app.",
            labels=["reason"],
        )
        for reason, count in sorted(self.counts.items()):
            family.add_metric([reason], float(count))
        yield family


def protocol_for(limits: ServerLimits, refusals: Refusals | None = None) -> type[LimitedHttpToolsProtocol]:
    """The protocol class to give ``uvicorn.Config(http=...)``: uvicorn builds one per
    connection with its own arguments only, so the limits travel on the class."""
    bound, counter = limits, refusals or Refusals()

    class Bound(LimitedHttpToolsProtocol):
        limits = bound
        refusals = counter

    return Bound


class _Refused(Exception):
    """Raised inside a parser callback to stop parsing; ``send_400_response`` answers."""


# Where a connection is. Each phase has its deadline; REFUSED's is the end of the lingering close.
_BETWEEN, _HEAD, _BODY, _REFUSED = "between", "head", "body", "refused"


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the limits of the module docstring.

    Deadlines are armed after each read, for the phase the read left the connection in, and
    only if that phase has none yet: a request that arrives whole in one read (the usual case)
    costs no timer at all, and a slow one is measured from its first read, not its last.
    """

    limits: ClassVar[ServerLimits]
    refusals: ClassVar[Refusals]

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        # uvicorn's keep-alive timer is our idle limit (it only feeds it to call_later: a float is fine)
        self.timeout_keep_alive = self.limits.idle_timeout  # type: ignore[assignment]
        self._phase = _BETWEEN
        self._deadline: asyncio.TimerHandle | None = None
        self._deadline_phase: str | None = None  # the phase the deadline was armed for
        self._stall: asyncio.TimerHandle | None = None
        self._head_bytes = 0  # bytes read since the last request ended (an upper bound on its head)
        self._refusal: GatewayError | None = None  # why a parser callback stopped the parser

    # -- connection ----------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            self.connections.discard(self)  # a refused connection holds no slot
            retry = str(self.limits.retry_after_seconds)
            message = "the gateway has too many open connections; retry later"
            self._refuse(Unavailable(message, reason="too_many_connections", headers={"retry-after": retry}))
            return
        self._arm(_BETWEEN)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel()
        if self._stall is not None:
            self._stall.cancel()
            self._stall = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._phase is _REFUSED:
            return  # lingering: read and drop
        if self._phase is not _BODY:
            self._head_bytes += len(data)
        super().data_received(data)
        phase = self._phase
        if phase is _HEAD and self._head_bytes > self.limits.max_header_bytes:
            self._refuse(self._headers_too_large())
        elif phase is not self._deadline_phase and phase is not _REFUSED:
            self._arm_for_read(phase)

    def send_400_response(self, msg: str) -> None:
        # uvicorn calls this for every parser error, including the ones our callbacks raise.
        refusal, self._refusal = self._refusal, None
        self._refuse(refusal or BadRequest("the request is not valid HTTP/1.1", reason="malformed_http"))

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # A pipelined request whose body was waiting for this response may now read it.
        if self._phase is _BODY and self._deadline_phase is not _BODY and not self.transport.is_closing():
            self._arm(_BODY)

    # -- parser callbacks ----------------------------------------------------------------------
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._phase = _HEAD
        if self._deadline_phase is _BETWEEN:
            self._cancel()  # the idle deadline must not fire while the request is served

    def on_headers_complete(self) -> None:
        limits = self.limits
        # _head_bytes may include body bytes read with the headers: count exactly only then.
        if self._head_bytes > limits.max_header_bytes and self._exact_head_size() > limits.max_header_bytes:
            self._stop(self._headers_too_large())
        if len(self.headers) > limits.max_headers:
            message = f"more than {limits.max_headers} header fields"
            self._stop(HeadersTooLarge(message, reason="too_many_headers"))
        self._phase = _BODY
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._phase = _BETWEEN
        self._head_bytes = 0
        if self._deadline is not None:
            self._cancel()

    # -- writing -------------------------------------------------------------------------------
    def pause_writing(self) -> None:
        super().pause_writing()
        if self._stall is None:
            self._stall = self.loop.call_later(self.limits.write_timeout, self._write_stalled)

    def resume_writing(self) -> None:
        super().resume_writing()
        if self._stall is not None:
            self._stall.cancel()
            self._stall = None

    # -- deadlines -----------------------------------------------------------------------------
    def _arm_for_read(self, phase: str) -> None:
        """After a read: the deadline of the phase it left the connection in, if it has one."""
        if phase is _HEAD:
            self._arm(_HEAD)
        elif phase is _BODY:
            if not self.pipeline:  # queued behind a response, its body is not being read yet
                self._arm(_BODY)
        elif self.cycle is None or self.cycle.response_complete:
            # Between requests with none in progress: only blank lines arrived (the parser skips
            # them without starting a request). They must not keep the connection open.
            self._arm(_BETWEEN)
        elif self._deadline is not None:
            self._cancel()  # a request is being served: no deadline until its response ends

    def _arm(self, phase: str) -> None:
        limits = self.limits
        seconds, handler = {
            _BETWEEN: (limits.idle_timeout, self._close_idle),
            _HEAD: (limits.header_timeout, self._header_timeout),
            _BODY: (limits.body_timeout, self._body_timeout),
            _REFUSED: (LINGER_SECONDS, self.transport.abort),
        }[phase]
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = self.loop.call_later(seconds, handler)
        self._deadline_phase = phase

    def _cancel(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = None
        self._deadline_phase = None

    def _close_idle(self) -> None:
        self._deadline = self._deadline_phase = None
        self.transport.close()

    def _header_timeout(self) -> None:
        self._deadline = self._deadline_phase = None
        message = f"request headers not received within {self.limits.header_timeout:g} s"
        self._refuse(RequestTimeout(message, reason="header_timeout"))

    def _body_timeout(self) -> None:
        self._deadline = self._deadline_phase = None
        message = f"request body not received within {self.limits.body_timeout:g} s"
        self._refuse(RequestTimeout(message, reason="body_timeout"))

    def _write_stalled(self) -> None:
        self._stall = None
        log.info("client stopped reading; connection dropped", extra={"reason": "write_timeout"})
        self.refusals.count("write_timeout")
        self.transport.abort()  # close() would wait for the buffer the client does not read

    # -- refusing ------------------------------------------------------------------------------
    def _stop(self, error: GatewayError) -> None:
        self._refusal = error
        raise _Refused(error.reason)

    def _refuse(self, error: GatewayError) -> None:
        """Answer ``error`` if there is room for an answer, and close the connection."""
        self._refusal = None
        phase, self._phase = self._phase, _REFUSED
        log.info("request refused", extra={"reason": error.reason, "status": error.status})
        self.refusals.count(error.reason)
        cycle = self.cycle  # in the body phase this request's; before it, the previous one's
        if cycle is not None and cycle.response_started and (phase is _BODY or not cycle.response_complete):
            # A response is on the wire, or this request was already answered (without waiting
            # for its body): a second response would answer nothing. Just end the connection.
            self._cancel()
            self.transport.close()
            return
        if cycle is not None and not cycle.response_started:
            cycle.disconnected = True  # the application sees the client gone; its answer is dropped
            cycle.message_event.set()
        self.transport.write(render(error, self.server_state.default_headers))
        self.flow.resume_reading()  # keep draining what the client sends, or it gets a reset
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self._arm(_REFUSED)

    def _exact_head_size(self) -> int:
        return len(self.url) + sum(len(n) + len(v) + _HEADER_OVERHEAD for n, v in self.headers)

    def _headers_too_large(self) -> HeadersTooLarge:
        limit = self.limits.max_header_bytes
        return HeadersTooLarge(f"request line and headers exceed {limit} bytes", reason="headers_too_large")


def render(error: GatewayError, default_headers: list[tuple[bytes, bytes]]) -> bytes:
    """A complete ``Connection: close`` HTTP/1.1 response for ``error``."""
    body = orjson.dumps({"error": error.fields()})  # the gateway's default shape (OpenAI's)
    headers = [
        *default_headers,
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
        *((name.encode("latin-1"), value.encode("latin-1")) for name, value in error.headers.items()),
    ]
    lines = [STATUS_LINE[error.status], *(name + b": " + value + b"\r\n" for name, value in headers)]
    return b"".join([*lines, b"\r\n", body])


def warn_if_over_file_limit(limits: ServerLimits) -> None:
    """Past the process's open-file limit, accept() fails before the cap can answer 503."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    # Each client connection may hold an upstream connection too, plus a margin for the rest.
    needed = 2 * limits.max_connections + 64
    if soft != resource.RLIM_INFINITY and needed > soft:
        log.warning(
            "server.max_connections is high for the open-file limit: raise `ulimit -n` or lower it",
            extra={"max_connections": limits.max_connections, "nofile": soft, "needed": needed},
        )
