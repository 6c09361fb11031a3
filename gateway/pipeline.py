"""The request pipeline: one ordered chain of stages, driven here and nowhere else.

A model call runs these stages, each a small module in ``gateway/stages/``::

    authenticate -> read -> idempotency -> profile -> decide -> route -> admit -> mask -> forward
                                                                                         |
                                            answer (buffered, or relayed as it streams) <-
    ... then, the way out, in reverse: account (forward) -> settle (admit) -> store (idempotency)
    ... and last: record (audit + metrics), exactly once, on every path.

Why this order:

* **authenticate** first: nothing about a request is read, parsed or logged for an unknown
  caller, and the cheapest refusal comes first.
* **read** next: the body is parsed once, strictly, and the dialect validates every field the
  gateway relies on; from here on stages see only the neutral view.
* **idempotency** before anything that costs: a retried call is answered from the store
  without deciding, charging or forwarding again.
* **profile** before **decide**: a caller none of whose roles has a profile is refused even
  if a policy bug would let it through (defense in depth).
* **decide** before anything that spends: a denied call is never routed, charged or guarded;
  the decision is re-checked against the profiles before it may stand.
* **route** after the decision: the served model (a downshift) picks the provider.
* **admit** after routing (reservations are priced at the served model's rates) and before
  the guard (a call over budget costs no PII analysis).
* **mask** just before **forward**: nothing leaves the building unmasked.
* The way out runs in reverse, like unwinding a stack: the real usage is accounted, then the
  budget reservation settled to it, then the answer stored for replay. Buffered answers and
  streams share this one routine; a buffered answer finishes before it is sent, a stream when
  its last byte went out, failed, or the client left.
* **record** last: the audit event and the metrics see the whole call. A buffered answer is
  released only once its audit record is durable in the spool; when it cannot be, the caller
  gets 503 ``audit_unavailable`` instead (never an answer without its record).

A stage raises a ``GatewayError`` to refuse or fail the call; the driver turns it into the
caller's dialect. Nothing else escapes: an unexpected exception is a logged 500.

Traced (``gateway/telemetry.py``, when the ``OTEL_*`` variables turn it on), a call is one
span from arrival to its record (a stream's: its last byte), with a child span per stage on
the way in and one for the upstream call. Untraced, the driver holds no tracer and runs the
plain loop: no span object exists.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from time import perf_counter

from opentelemetry.trace import Status, StatusCode
from starlette.responses import Response

from gateway.call import Call
from gateway.errors import GatewayError
from gateway.recording import Recorder
from gateway.stages.base import Stage
from gateway.telemetry import Tracing

log = logging.getLogger("skein.pipeline")

Finish = Callable[[Call], Awaitable[None]]
Respond = Callable[[Call, Finish], Awaitable[Response]]
ErrorResponse = Callable[[Call, GatewayError], Response]


class Pipeline:
    """Stages in order, then ``respond``; ``finish`` (the way out) exactly once per call.

    ``respond`` builds the answer. For a buffered answer it returns a finished response and
    the driver runs ``finish`` before handing it over; a streaming response calls ``finish``
    itself when the stream ends (``call.streaming`` tells which).
    """

    def __init__(
        self,
        stages: Sequence[Stage],
        respond: Respond,
        fail: ErrorResponse,
        recorder: Recorder,
        *,
        tracing: Tracing | None = None,
        method: str = "POST",
        route: str | None = None,
    ) -> None:
        self.stages = tuple(stages)
        self._respond = respond
        self._fail = fail
        self._recorder = recorder
        self._tracing = tracing
        self._method = method  # the HTTP method of the routes it serves (the span's name)
        self._route = route  # the route template, when the call's route is a path with ids in it

    async def run(self, call: Call) -> Response:
        if self._tracing is None:
            return await self._run(call, self._enter)
        call.trace = trace = self._tracing.begin(call, self._method, self._route)
        trace.attach()
        try:  # a call the sampler left out makes no stage spans: only its context travels on
            return await self._run(call, self._enter_traced if trace.recording else self._enter)
        finally:
            trace.detach()

    async def _run(self, call: Call, enter: Callable[[Call], Awaitable[None]]) -> Response:
        try:
            await enter(call)
            response = await self._respond(call, self.finish)
        except GatewayError as exc:
            call.fail(exc)
            response = self._fail(call, exc)
        except Exception:
            log.exception("unexpected error", extra={"request_id": call.trail.request_id})
            error = GatewayError("internal error; see the gateway log")
            call.fail(error)
            response = self._fail(call, error)
        except BaseException:
            await self.finish(call)  # cancelled before an answer existed: still one record
            raise
        if not call.streaming:
            unrecorded = await self._finish(call)
            if unrecorded is not None:  # the record is not durable: the answer must not go out
                return self._fail(call, unrecorded)
        return response

    async def _enter(self, call: Call) -> None:
        for stage in self.stages:
            started = perf_counter()
            call.entered += 1
            try:
                await stage.enter(call)
            finally:  # the stage that refused is timed too: a denial's explanation shows it
                call.trail.mark(stage.name, started)
            if call.replay is not None:
                return  # an idempotent replay: the stored answer, nothing else runs

    async def _enter_traced(self, call: Call) -> None:
        """``_enter`` with a span per stage (a refusal names its reason on the stage's span)."""
        trace = call.trace
        assert trace is not None
        for stage in self.stages:
            started = perf_counter()
            call.entered += 1
            with trace.stage(stage.name) as span:  # current while it runs: the upstream span's parent
                try:
                    await stage.enter(call)
                except GatewayError as exc:
                    span.set_attribute("skein.reason", exc.reason)
                    if exc.status >= 500:
                        span.set_status(Status(StatusCode.ERROR))
                    raise
                finally:
                    call.trail.mark(stage.name, started)
            if call.replay is not None:
                return

    async def finish(self, call: Call) -> None:
        """The way out: every entered stage's ``leave``, in reverse, then the record. Once."""
        await self._finish(call)

    async def _finish(self, call: Call) -> GatewayError | None:
        """``finish``; returns the error when the call's audit record could not be made durable."""
        if call.finished:
            return None
        call.finished = True
        for stage in reversed(self.stages[: call.entered]):
            try:
                await stage.leave(call)
            except Exception:
                log.exception("stage %s failed on the way out", stage.name)
        try:
            await self._recorder.record(call)
        except GatewayError as exc:
            return exc
        finally:
            if call.trace is not None:
                call.trace.end(call)
        return None
