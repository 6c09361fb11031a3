"""OpenTelemetry traces, configured by the standard ``OTEL_*`` variables, off when they are unset.

Tracing is on when ``OTEL_TRACES_EXPORTER`` names an exporter (``otlp``, ``console``) or, when
it is unset, an OTLP endpoint is given (``OTEL_EXPORTER_OTLP_ENDPOINT`` or
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``); ``OTEL_SDK_DISABLED=true`` or
``OTEL_TRACES_EXPORTER=none`` turn it off. The exporter speaks OTLP over HTTP/protobuf and
reads its own variables (endpoint, headers, timeout, compression, certificates), the batch
processor its ``OTEL_BSP_*``, the sampler ``OTEL_TRACES_SAMPLER``, the resource
``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES`` (the service is ``skein`` unless named).

Why the pipeline is traced by hand and not by an instrumentation library: the hot routes
bypass Starlette's middleware (``gateway/http/fastpath.py``), and the spans worth having are
the pipeline's stages, which no generic library knows. Off, the pipeline holds no tracer and
no span object is ever made: the request path pays one ``is None`` test per call.

The provider is the app's own (made in the lifespan, shut down with it, flushing what is
batched); nothing is installed as the process-wide global provider.

What a caller sends is hostile: only the W3C ``traceparent``/``tracestate`` pair is read (the
propagator validates both), baggage is neither read nor forwarded, and no attribute carries
a prompt, a token or the caller's subject.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from gateway.domain import MODEL_ALIASES

if TYPE_CHECKING:
    from gateway.call import Call

log = logging.getLogger("skein.telemetry")

_EXPORTERS = ("otlp", "console")
_HTTP_PROTOCOL = "http/protobuf"
# The dialects' actions as GenAI operation names (semantic conventions, gen_ai.operation.name).
_OPERATIONS = {
    "chat": "chat",
    "responses": "chat",
    "completions": "text_completion",
    "embeddings": "embeddings",
}


class TelemetryConfigError(ValueError):
    """The ``OTEL_*`` variables ask for something this gateway does not ship."""


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() == "true"


def exporter_names(environ: Mapping[str, str]) -> tuple[str, ...]:
    """The span exporters the environment asks for; empty when tracing is off."""
    if _flag(environ.get("OTEL_SDK_DISABLED")):
        return ()
    named = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if not named:
        endpoint = environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or environ.get(
            "OTEL_EXPORTER_OTLP_ENDPOINT"
        )
        return ("otlp",) if endpoint else ()
    names = tuple(dict.fromkeys(name.strip() for name in named.split(",") if name.strip()))
    if "none" in names:
        return ()
    unknown = [name for name in names if name not in _EXPORTERS]
    if unknown:
        raise TelemetryConfigError(
            f"OTEL_TRACES_EXPORTER: unsupported {unknown} (supported: otlp, console, none)"
        )
    return names


def _exporter(name: str, environ: Mapping[str, str]) -> SpanExporter:
    if name == "console":
        return ConsoleSpanExporter()
    protocol = (
        environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL") or ""
    ).strip()
    if protocol and protocol != _HTTP_PROTOCOL:
        # Silently posting HTTP to a gRPC port would lose every span: refuse to start instead.
        raise TelemetryConfigError(f"OTLP protocol {protocol!r} is not supported; use {_HTTP_PROTOCOL}")
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()  # endpoint, headers, timeout...: from the OTEL_EXPORTER_OTLP_* variables


def open_tracing(environ: Mapping[str, str], *, version: str, instance_id: str) -> Tracing | None:
    """The app's tracing from the environment, or None when it is off (the request path checks)."""
    names = exporter_names(environ)
    if not names:
        return None
    attributes: dict[str, str] = {SERVICE_VERSION: version, "service.instance.id": instance_id}
    named_in_resource = "service.name=" in environ.get("OTEL_RESOURCE_ATTRIBUTES", "")
    if not environ.get("OTEL_SERVICE_NAME") and not named_in_resource:
        attributes[SERVICE_NAME] = "skein"
    provider = TracerProvider(resource=Resource.create(attributes))  # sampler: OTEL_TRACES_SAMPLER
    for name in names:
        provider.add_span_processor(BatchSpanProcessor(_exporter(name, environ)))
    log.info("tracing on: exporting spans with %s", ", ".join(names))
    return Tracing(provider)


class Tracing:
    """The tracer of one app, and how a call's spans begin and end."""

    def __init__(self, provider: TracerProvider) -> None:
        self.provider = provider
        self.tracer = provider.get_tracer("skein.gateway")
        self._propagator = TraceContextTextMapPropagator()  # W3C trace context, nothing else
        # The library logs each refused ``tracestate`` member raw, at WARNING: any caller
        # could write its own text (up to 8 KiB a call) into the log. The header is dropped
        # either way; only its errors are kept.
        logging.getLogger("opentelemetry.trace.span").setLevel(logging.ERROR)

    def shutdown(self) -> None:
        """Flush the batched spans and stop the export thread (blocking: run it off the loop)."""
        self.provider.shutdown()

    def begin(self, call: Call, method: str, route: str | None = None) -> CallTrace:
        """The call's span: a server span continuing the caller's ``traceparent``, or, when
        this pipeline runs inside another call's (an MCP message inside its POST), a child."""
        current = trace.get_current_span()
        nested = current.get_span_context().is_valid and not current.get_span_context().is_remote
        trail = call.trail
        route = route or trail.route
        name = f"{method} {route}"
        attributes = {
            "http.request.method": method,
            "http.route": route,
            "skein.request_id": trail.request_id,
            "skein.action": trail.action,
        }
        if nested:
            span = self.tracer.start_span(name, kind=SpanKind.INTERNAL, attributes=attributes)
        else:
            parent = self._propagator.extract(call.headers, context=otel_context.Context())
            span = self.tracer.start_span(name, context=parent, kind=SpanKind.SERVER, attributes=attributes)
        return CallTrace(self, span, span.is_recording())

    def inject(self, span: Span, headers: dict[str, str]) -> None:
        """Add ``traceparent`` (and ``tracestate``) naming ``span`` to outgoing headers."""
        self._propagator.inject(headers, context=trace.set_span_in_context(span))


@dataclass(slots=True)
class CallTrace:
    """The spans of one call: the call's own, and the upstream call's while it runs."""

    tracing: Tracing
    span: Span
    recording: bool  # sampled: spans are made; else only the context is propagated
    upstream: Span | None = None
    upstream_end_ns: int | None = None  # a buffered answer's arrival (the upstream span's end)
    _token: object | None = field(default=None, repr=False)

    def attach(self) -> None:
        """Make the call's span current (stage spans and the upstream span become its children)."""
        self._token = otel_context.attach(trace.set_span_in_context(self.span))

    def detach(self) -> None:
        if self._token is not None:
            otel_context.detach(self._token)  # type: ignore[arg-type]
            self._token = None

    def outgoing(self, headers: Mapping[str, str]) -> dict[str, str]:
        """``headers`` with the trace context replaced by the current span's."""
        out = {name: value for name, value in headers.items() if name not in ("traceparent", "tracestate")}
        self.tracing.inject(trace.get_current_span(), out)
        return out

    def stage(self, name: str) -> AbstractContextManager[Span]:
        """A stage's span, current while the stage runs, ended when it returns or raises."""
        span = self.tracing.tracer.start_span(f"stage {name}", attributes={"skein.stage": name})
        # A refusal is the stage working: the exception is not recorded as the span's error.
        return trace.use_span(span, end_on_exit=True, record_exception=False, set_status_on_exception=False)

    def start_upstream(self, call: Call, headers: dict[str, str]) -> None:
        """The upstream call's client span; its context goes out in ``headers``."""
        route = call.route
        assert route is not None, "routed before forwarded"
        if not self.recording:
            self.tracing.inject(self.span, headers)  # the caller's choice not to sample travels on
            return
        operation = _OPERATIONS.get(call.trail.action, call.trail.action)
        attributes = {
            "gen_ai.operation.name": operation,
            "gen_ai.system": call.dialect.family,
            "gen_ai.request.model": route.upstream_model,
            "skein.provider": route.upstream.name,
        }
        span = self.tracing.tracer.start_span(
            f"{operation} {route.upstream_model}", kind=SpanKind.CLIENT, attributes=attributes
        )
        self.upstream = span
        self.tracing.inject(span, headers)

    def upstream_answered(self) -> None:
        self.upstream_end_ns = time.time_ns()

    def end_upstream(self, call: Call, error: BaseException | None = None) -> None:
        """End the upstream span: at once on a failed send, else when the answer is complete
        (a stream's last byte), with the provider's status and token usage."""
        span, self.upstream = self.upstream, None
        if span is None:
            return
        trail = call.trail
        if trail.upstream_status is not None:
            span.set_attribute("http.response.status_code", trail.upstream_status)
            if trail.upstream_status >= 500:
                span.set_status(Status(StatusCode.ERROR))
        if call.route is not None:
            span.set_attribute("gen_ai.response.model", call.route.upstream_model)
        if trail.usage is not None:
            span.set_attribute("gen_ai.usage.input_tokens", trail.usage.tokens_in)
            span.set_attribute("gen_ai.usage.output_tokens", trail.usage.tokens_out)
        if error is not None:
            span.set_attribute("error.type", getattr(error, "reason", type(error).__name__))
            span.set_status(Status(StatusCode.ERROR))
        span.end(end_time=self.upstream_end_ns)

    def end(self, call: Call) -> None:
        """End the call's span with its outcome: the decision, the status, the GenAI usage."""
        if not self.recording:
            self.span.end()
            return
        self.end_upstream(call)
        trail, span = call.trail, self.span
        outcome = trail.outcome()
        attributes: dict[str, str | int | float | bool | list[str]] = {
            "http.response.status_code": trail.status or 200,
            "skein.decision.outcome": outcome,
            "skein.decision.reason": trail.reason(),
        }
        if trail.decision_id:
            attributes["skein.decision.id"] = trail.decision_id
        if trail.bundle_revision:
            attributes["skein.bundle.revision"] = trail.bundle_revision
        if trail.principal is not None:
            attributes["skein.roles"] = list(trail.principal.roles)
        if trail.view is not None and trail.view.model:
            attributes["gen_ai.request.model"] = _requested_model(call, trail.view.model)
            attributes["gen_ai.operation.name"] = _OPERATIONS.get(trail.action, trail.action)
        if call.route is not None:
            attributes["gen_ai.system"] = call.dialect.family
            attributes["skein.provider"] = call.route.upstream.name
        if trail.served_model:
            attributes["gen_ai.response.model"] = trail.served_model
        if trail.usage is not None:
            attributes["gen_ai.usage.input_tokens"] = trail.usage.tokens_in
            attributes["gen_ai.usage.output_tokens"] = trail.usage.tokens_out
        if trail.cost_usd:
            attributes["skein.cost_usd"] = trail.cost_usd
        span.set_attributes(attributes)
        if trail.status >= 500:  # a refusal (4xx) is the gateway working, not failing
            span.set_attribute("error.type", trail.reason())
            span.set_status(Status(StatusCode.ERROR))
        span.end()


def _requested_model(call: Call, model: str) -> str:
    """The model the caller named, when it is a catalog model or an alias; else ``other``:
    until checked it is the caller's free text (an address, say), like the metrics' labels."""
    bundle = call.bundle
    if model in MODEL_ALIASES or (bundle is not None and model in bundle.catalog.models):
        return model
    return "other"
