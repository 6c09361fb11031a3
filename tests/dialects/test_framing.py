from __future__ import annotations

import orjson
from hypothesis import given
from hypothesis import strategies as st

from gateway.dialects.framing import NDJSON, SSE, EventRelay, SseEvent, sse_event

EVENTS = [
    b'data: {"choices":[{"delta":{"content":"Hel"}}]}\n\n',
    b'data: {"choices":[{"delta":{"content":"lo"}}]}\n\n',
    b": keep-alive comment\n\n",
    b'data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2}}\n\n',
    b"data: [DONE]\n\n",
]
STREAM = b"".join(EVENTS)


def _run(relay: EventRelay, chunks: list[bytes]) -> bytes:
    return b"".join(relay.feed(c) for c in chunks) + relay.flush()


def test_passthrough_is_byte_exact_and_sees_every_event() -> None:
    seen: list[bytes] = []
    relay = EventRelay(SSE, lambda unit: seen.append(unit) or unit)
    assert _run(relay, [STREAM]) == STREAM
    assert seen == EVENTS


def test_complete_events_are_released_at_once_and_a_partial_tail_held() -> None:
    relay = EventRelay(SSE, lambda unit: unit)
    assert relay.feed(EVENTS[0] + EVENTS[1][:10]) == EVENTS[0]
    assert relay.feed(EVENTS[1][10:]) == EVENTS[1]


def test_handler_can_drop_and_rewrite() -> None:
    def handle(unit: bytes) -> bytes | None:
        event = SseEvent.parse(unit)
        if b"usage" in event.data:
            return None
        return unit.upper()

    out = _run(EventRelay(SSE, handle), [STREAM])
    assert b"usage" not in out and b'"HEL"' in out


def test_marker_skips_work_on_blocks_without_it() -> None:
    calls: list[bytes] = []
    relay = EventRelay(SSE, lambda unit: calls.append(unit) or unit, marker=b'"usage"')
    relay.feed(EVENTS[0] + EVENTS[1])
    assert calls == []
    relay.feed(EVENTS[3])
    assert calls == [EVENTS[3]]


def test_crlf_separators_and_ndjson_lines() -> None:
    stream = b'data: {"a":1}\r\n\r\ndata: [DONE]\r\n\r\n'
    assert _run(EventRelay(SSE, lambda u: u), [stream[:5], stream[5:]]) == stream
    lines: list[bytes] = []
    relay = EventRelay(NDJSON, lambda u: lines.append(u) or u)
    assert _run(relay, [b'{"a":1}\n{"b"', b":2}\n"]) == b'{"a":1}\n{"b":2}\n'
    assert lines == [b'{"a":1}\n', b'{"b":2}\n']


def test_unterminated_tail_is_processed_then_the_codec_finishes() -> None:
    relay = EventRelay(SSE, lambda unit: unit, finish=lambda: b"data: held\n\n")
    assert relay.feed(b'data: {"x":1}') == b""
    assert relay.flush() == b'data: {"x":1}data: held\n\n'


def test_an_event_that_never_ends_is_cut_at_the_limit() -> None:
    from gateway.errors import UpstreamError

    relay = EventRelay(SSE, lambda unit: unit, limit=64)
    relay.feed(b"data: " + b"x" * 50)
    try:
        relay.feed(b"y" * 50)
    except UpstreamError as exc:
        assert exc.reason == "upstream_protocol"
    else:
        raise AssertionError("an endless event must be refused")


def test_named_multi_line_events_parse_and_render() -> None:
    unit = b'id: 7\nevent: content_block_delta\ndata: {"a":\ndata: 1}\n\n'
    event = SseEvent.parse(unit)
    assert event.name == "content_block_delta"
    assert orjson.loads(event.data) == {"a": 1}
    rendered = SseEvent.parse(event.render(b'{"a":2}'))
    assert (rendered.name, rendered.data, rendered.fields) == ("content_block_delta", b'{"a":2}', (b"id: 7",))
    assert SseEvent.parse(sse_event(b"x", "error")).name == "error"


@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=12))
def test_any_chunking_gives_the_same_bytes(cuts: list[int]) -> None:
    points = sorted(set(cuts))
    chunks = [STREAM[a:b] for a, b in zip([0, *points], [*points, len(STREAM)], strict=True)]
    assert _run(EventRelay(SSE, lambda unit: unit), chunks) == STREAM
