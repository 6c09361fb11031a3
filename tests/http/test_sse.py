from __future__ import annotations

import orjson
from hypothesis import given
from hypothesis import strategies as st

from gateway.http.sse import SseRelay

EVENTS = [
    b'data: {"choices":[{"delta":{"content":"Hel"}}]}\n\n',
    b'data: {"choices":[{"delta":{"content":"lo"}}]}\n\n',
    b": keep-alive comment\n\n",
    b'data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2}}\n\n',
    b"data: [DONE]\n\n",
]
STREAM = b"".join(EVENTS)


def _run(relay: SseRelay, chunks: list[bytes]) -> bytes:
    return b"".join(relay.feed(c) for c in chunks) + relay.flush()


def test_passthrough_is_byte_exact() -> None:
    seen: list[bytes] = []
    relay = SseRelay(lambda p: seen.append(p) or p)
    assert _run(relay, [STREAM]) == STREAM
    assert len(seen) == 3  # data events only; the comment and [DONE] are not handed over


def test_complete_events_are_released_immediately_and_partial_tail_held() -> None:
    relay = SseRelay(lambda p: p)
    assert relay.feed(EVENTS[0] + EVENTS[1][:10]) == EVENTS[0]
    assert relay.feed(EVENTS[1][10:]) == EVENTS[1]


def test_handler_can_drop_and_rewrite() -> None:
    def handle(payload: bytes) -> bytes | None:
        body = orjson.loads(payload)
        if body.get("choices") == []:
            return None
        body["choices"][0]["delta"]["content"] = body["choices"][0]["delta"]["content"].upper()
        return orjson.dumps(body)

    out = _run(SseRelay(handle), [STREAM])
    assert b"usage" not in out
    assert b'"HEL"' in out and b'"LO"' in out
    assert out.endswith(b"data: [DONE]\n\n")


def test_marker_skips_work_on_blocks_without_it() -> None:
    calls: list[bytes] = []
    relay = SseRelay(lambda p: calls.append(p) or p, marker=b'"usage"')
    relay.feed(EVENTS[0] + EVENTS[1])
    assert calls == []
    relay.feed(EVENTS[3])
    assert len(calls) == 1


def test_crlf_separators() -> None:
    stream = b'data: {"a":1}\r\n\r\ndata: [DONE]\r\n\r\n'
    assert _run(SseRelay(lambda p: p), [stream[:5], stream[5:]]) == stream


def test_unterminated_tail_is_flushed_at_the_end() -> None:
    relay = SseRelay(lambda p: p)
    assert relay.feed(b'data: {"x":1}') == b""
    assert relay.flush() == b'data: {"x":1}'


@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=12))
def test_any_chunking_gives_the_same_bytes(cuts: list[int]) -> None:
    points = sorted(set(cuts))
    chunks = [STREAM[a:b] for a, b in zip([0, *points], [*points, len(STREAM)], strict=True)]
    assert _run(SseRelay(lambda p: p), chunks) == STREAM
