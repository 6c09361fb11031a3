from __future__ import annotations

import orjson

from gateway.http.sse import SseRelay
from gateway.upstream.echo import EchoUpstream


async def test_echo_returns_what_the_provider_would_have_received() -> None:
    request = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Summarise Q3"}]}
    response = await EchoUpstream().send("/chat/completions", orjson.dumps(request), stream=False)
    body = orjson.loads(response.body or b"")
    assert response.status == 200
    assert orjson.loads(body["choices"][0]["message"]["content"]) == request
    assert body["usage"]["prompt_tokens"] > 0


async def test_echo_streams_sse_with_usage_and_done() -> None:
    request = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "x" * 100}]}
    response = await EchoUpstream().send("/chat/completions", orjson.dumps(request), stream=True)
    assert response.chunks is not None
    payloads: list[bytes] = []
    relay = SseRelay(lambda p: payloads.append(p) or p)
    raw = b"".join([relay.feed(c) async for c in response.chunks])
    assert raw.endswith(b"data: [DONE]\n\n")
    text = "".join(
        orjson.loads(p)["choices"][0]["delta"].get("content", "")
        for p in payloads
        if orjson.loads(p)["choices"]
    )
    assert orjson.loads(text) == request
    assert "usage" in orjson.loads(payloads[-1])


async def test_echo_embeddings_are_deterministic() -> None:
    body = orjson.dumps({"model": "text-embedding-3-small", "input": ["a", "b"]})
    first = orjson.loads((await EchoUpstream().send("/embeddings", body, stream=False)).body or b"")
    second = orjson.loads((await EchoUpstream().send("/embeddings", body, stream=False)).body or b"")
    assert len(first["data"]) == 2
    assert first["data"] == second["data"]
