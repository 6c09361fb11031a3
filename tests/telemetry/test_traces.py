"""Traces over the wire: the gateway with the standard OTEL_* variables, an OTLP/HTTP receiver
in-process, the fake provider as the upstream (which must receive the trace context)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager

import httpx
import pytest

from gateway.settings import Settings
from gateway.telemetry import TelemetryConfigError, exporter_names
from guard import Guard
from tests.support.gateway import running_gateway
from tests.support.otlp import KIND_CLIENT, KIND_SERVER, OtlpReceiver, Span
from tests.support.upstream import FakeProvider

Bearer = Callable[..., dict[str, str]]
Running = Callable[[], AbstractAsyncContextManager[httpx.AsyncClient]]
CHAT = "/v1/chat/completions"
CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
MODEL_STAGES = (
    "authenticate",
    "read",
    "idempotency",
    "profile",
    "decide",
    "route",
    "admit",
    "mask",
    "forward",
)


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    running = OtlpReceiver().start()
    yield running
    running.stop()


def _clear_otel(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("OTEL_"):
            monkeypatch.delenv(name)


@pytest.fixture
def traced(
    receiver: OtlpReceiver, monkeypatch: pytest.MonkeyPatch, gateway_settings: Settings, guard: Guard
) -> Running:
    """A gateway exporting to ``receiver``; the spans are all there once its lifespan ended."""
    _clear_otel(monkeypatch)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)

    def run() -> AbstractAsyncContextManager[httpx.AsyncClient]:
        return running_gateway(gateway_settings, guard=guard)

    return run


def _chat(text: str = "hello", *, stream: bool = False, model: str = "gpt-4o-mini") -> dict[str, object]:
    body: dict[str, object] = {"model": model, "messages": [{"role": "user", "content": text}]}
    if stream:
        body["stream"] = True
    return body


def _server_span(spans: list[Span]) -> Span:
    servers = [span for span in spans if span.kind == KIND_SERVER]
    assert len(servers) == 1, [span.name for span in spans]
    return servers[0]


def _by_request(receiver: OtlpReceiver, request_id: str) -> list[Span]:
    for spans in receiver.traces().values():
        if any(span.attributes.get("skein.request_id") == request_id for span in spans):
            return spans
    raise AssertionError(f"no trace for request {request_id}")


async def test_one_trace_per_call_continued_and_forwarded(
    traced: Running, receiver: OtlpReceiver, bearer: Bearer, fake_provider: FakeProvider
) -> None:
    traceparent = f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"
    async with traced() as client:
        continued = await client.post(CHAT, json=_chat(), headers={**bearer(), "traceparent": traceparent})
        assert continued.status_code == 200, continued.text
        forwarded = fake_provider.headers[-1]
        fresh = await client.post(CHAT, json=_chat("again"), headers=bearer())
        assert fresh.status_code == 200
    # The lifespan ended: the provider shut down, every batched span is exported.
    traces = receiver.traces()
    assert len(traces) == 2, {trace: [s.name for s in spans] for trace, spans in traces.items()}

    spans = traces[CALLER_TRACE]
    server = _server_span(spans)
    assert server.parent_id == CALLER_SPAN
    assert server.name == "POST /v1/chat/completions"
    assert server.resource["service.name"] == "skein"
    attributes = server.attributes
    assert attributes["skein.request_id"] == continued.headers["x-skein-request-id"]
    assert attributes["skein.decision.id"] == continued.headers["x-skein-decision-id"]
    assert attributes["skein.decision.outcome"] == "allow"
    assert attributes["skein.decision.reason"]
    assert attributes["http.response.status_code"] == 200
    assert attributes["gen_ai.system"] == "openai"
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.request.model"] == "gpt-4o-mini"
    assert attributes["gen_ai.response.model"] == "gpt-4o-mini"
    assert attributes["gen_ai.usage.input_tokens"] == 12
    assert attributes["gen_ai.usage.output_tokens"] == 6
    assert attributes["skein.roles"] == ["finance"]

    stages = {span.attributes["skein.stage"]: span for span in spans if "skein.stage" in span.attributes}
    assert set(MODEL_STAGES) <= set(stages)
    assert all(stage.parent_id == server.span_id for stage in stages.values())
    (upstream,) = [span for span in spans if span.kind == KIND_CLIENT]
    assert upstream.parent_id == stages["forward"].span_id
    assert upstream.attributes["gen_ai.request.model"] == "gpt-4o-mini"
    assert upstream.attributes["gen_ai.usage.output_tokens"] == 6
    assert upstream.attributes["http.response.status_code"] == 200
    # The provider continues the trace from the upstream call's span, not the caller's.
    assert forwarded["traceparent"] == f"00-{CALLER_TRACE}-{upstream.span_id}-01"

    other = next(spans for trace, spans in traces.items() if trace != CALLER_TRACE)
    assert _server_span(other).parent_id == ""  # a new trace: no parent


async def test_refusals_stream_and_upstream_errors_are_on_the_span(
    traced: Running, receiver: OtlpReceiver, bearer: Bearer
) -> None:
    async with traced() as client:
        denied = await client.post(CHAT, json=_chat(model="gpt-4o"), headers=bearer())
        assert denied.status_code == 403
        streamed = await client.post(CHAT, json=_chat(stream=True), headers=bearer())
        assert streamed.status_code == 200
        failed = await client.post(CHAT, json=_chat("[[status:500]]"), headers=bearer())
        assert failed.status_code == 500
        unauthenticated = await client.post(CHAT, json=_chat())
        assert unauthenticated.status_code == 401

    deny = _server_span(_by_request(receiver, denied.headers["x-skein-request-id"]))
    assert deny.attributes["skein.decision.outcome"] == "deny"
    assert deny.attributes["skein.decision.reason"] == "model_not_allowed"
    assert deny.attributes["skein.decision.id"] == denied.headers["x-skein-decision-id"]
    assert deny.status_code == 0  # a refusal is not a server error
    decide = next(
        s for s in _by_request(receiver, denied.headers["x-skein-request-id"]) if s.name == "stage decide"
    )
    assert decide.attributes["skein.reason"] == "model_not_allowed"

    stream_spans = _by_request(receiver, streamed.headers["x-skein-request-id"])
    stream = _server_span(stream_spans)
    assert stream.attributes["gen_ai.usage.output_tokens"] > 0
    (upstream,) = [span for span in stream_spans if span.kind == KIND_CLIENT]
    assert (
        upstream.attributes["gen_ai.usage.output_tokens"] == stream.attributes["gen_ai.usage.output_tokens"]
    )

    error_spans = _by_request(receiver, failed.headers["x-skein-request-id"])
    error = _server_span(error_spans)
    assert error.attributes["http.response.status_code"] == 500
    assert error.status_code == 2
    (upstream,) = [span for span in error_spans if span.kind == KIND_CLIENT]
    assert upstream.status_code == 2

    anonymous = _server_span(_by_request(receiver, unauthenticated.headers["x-skein-request-id"]))
    assert anonymous.attributes["skein.decision.outcome"] == "deny"
    assert "skein.roles" not in anonymous.attributes


async def test_a_hostile_traceparent_starts_a_new_trace(
    traced: Running, receiver: OtlpReceiver, bearer: Bearer, fake_provider: FakeProvider
) -> None:
    async with traced() as client:
        headers = {**bearer(), "traceparent": "00-" + "0" * 32 + "-" + CALLER_SPAN + "-01", "baggage": "x=1"}
        response = await client.post(CHAT, json=_chat(), headers=headers)
        assert response.status_code == 200
        forwarded = fake_provider.headers[-1]
    server = _server_span(_by_request(receiver, response.headers["x-skein-request-id"]))
    assert server.trace_id != "0" * 32 and server.parent_id == ""
    assert forwarded["traceparent"].split("-")[1] == server.trace_id
    assert "baggage" not in {name.lower() for name in forwarded}


async def test_off_when_unset(
    monkeypatch: pytest.MonkeyPatch,
    gateway_settings: Settings,
    guard: Guard,
    bearer: Bearer,
    fake_provider: FakeProvider,
) -> None:
    _clear_otel(monkeypatch)
    async with running_gateway(gateway_settings, guard=guard) as client:
        assert client.app_state["gateway"].tracing is None  # type: ignore[attr-defined]
        headers = {**bearer(), "traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"}
        response = await client.post(CHAT, json=_chat(), headers=headers)
        assert response.status_code == 200
        assert "traceparent" not in {name.lower() for name in fake_provider.headers[-1]}


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, ()),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, ("otlp",)),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}, ("otlp",)),
        ({"OTEL_TRACES_EXPORTER": "console,otlp"}, ("console", "otlp")),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, ()),
        ({"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}, ()),
        ({"OTEL_SDK_DISABLED": "false", "OTEL_TRACES_EXPORTER": "otlp"}, ("otlp",)),
    ],
)
def test_which_variables_turn_it_on(environ: dict[str, str], expected: tuple[str, ...]) -> None:
    assert exporter_names(environ) == expected


def test_what_is_not_shipped_is_refused() -> None:
    with pytest.raises(TelemetryConfigError, match="zipkin"):
        exporter_names({"OTEL_TRACES_EXPORTER": "zipkin"})


async def test_grpc_is_refused_at_start(
    monkeypatch: pytest.MonkeyPatch, gateway_settings: Settings, guard: Guard
) -> None:
    _clear_otel(monkeypatch)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    with pytest.raises(TelemetryConfigError, match="grpc"):
        async with running_gateway(gateway_settings, guard=guard):
            pass


async def test_an_unsampled_call_makes_no_spans_but_passes_its_context_on(
    traced: Running, receiver: OtlpReceiver, bearer: Bearer, fake_provider: FakeProvider
) -> None:
    async with traced() as client:
        headers = {**bearer(), "traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-00"}  # not sampled
        response = await client.post(CHAT, json=_chat(), headers=headers)
        assert response.status_code == 200
        forwarded = fake_provider.headers[-1]["traceparent"]
        sampled = await client.post(CHAT, json=_chat(), headers=bearer())
        assert sampled.status_code == 200
    assert CALLER_TRACE not in receiver.traces()
    assert forwarded.startswith(f"00-{CALLER_TRACE}-") and forwarded.endswith("-00")
    _server_span(_by_request(receiver, sampled.headers["x-skein-request-id"]))  # the other one is there


async def test_control_routes_are_named_by_their_template(
    traced: Running, receiver: OtlpReceiver, bearer: Bearer
) -> None:
    async with traced() as client:
        response = await client.get("/api/v1/tasks/0123456789abcdef", headers=bearer())
        assert response.status_code in (403, 404), response.text
        listing = await client.get("/v1/models", headers=bearer())
        assert listing.status_code == 200
    server = _server_span(_by_request(receiver, response.headers["x-skein-request-id"]))
    assert server.name == "GET /api/v1/tasks/{task_id}"  # not the path: span names stay bounded
    assert _server_span(_by_request(receiver, listing.headers["x-skein-request-id"])).name == "GET /v1/models"


async def test_a_hostile_tracestate_is_dropped_and_not_logged(
    traced: Running,
    receiver: OtlpReceiver,
    bearer: Bearer,
    fake_provider: FakeProvider,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The library logs each refused tracestate member raw, at WARNING: any caller could
    write its own text (8 KiB a call) into the gateway's log. Dropped quietly instead."""
    marker = "ssn-078-05-1120"
    hostile = ("k=v\r\nX-Evil: " + marker, ",".join(f"{marker}{i}=v" for i in range(40)), marker * 600)
    caplog.set_level("DEBUG")
    async with traced() as client:
        for tracestate in hostile:
            headers = {
                **bearer(),
                "traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01",
                "tracestate": tracestate,
            }
            response = await client.post(CHAT, json=_chat(), headers=headers)
            assert response.status_code == 200
            forwarded = fake_provider.headers[-1]
            assert forwarded["traceparent"].split("-")[1] == CALLER_TRACE
            assert marker not in forwarded.get("tracestate", "")
    assert not [r for r in caplog.records if marker in r.getMessage()]


async def test_a_model_outside_the_catalog_is_not_on_the_span(
    traced: Running, receiver: OtlpReceiver, bearer: Bearer
) -> None:
    """The model a caller names is free text until checked against the catalog: it may be
    anything (a name, a prompt). Only catalog models and aliases go on spans, like metrics."""
    marker = "alice@acme.com"
    async with traced() as client:
        refused = await client.post(CHAT, json=_chat(model=marker), headers=bearer())
        assert refused.status_code == 403
        known = await client.post(CHAT, json=_chat(), headers=bearer())
        assert known.status_code == 200
    spans = _by_request(receiver, refused.headers["x-skein-request-id"])
    assert not [s.name for s in spans if marker in repr(s.attributes) or marker in s.name]
    assert _server_span(spans).attributes["gen_ai.request.model"] == "other"
    served = _server_span(_by_request(receiver, known.headers["x-skein-request-id"]))
    assert served.attributes["gen_ai.request.model"] == "gpt-4o-mini"
