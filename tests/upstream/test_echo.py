from __future__ import annotations

import orjson

from gateway.dialects import openai
from gateway.upstream.base import UpstreamRequest
from gateway.upstream.echo import EchoUpstream


async def test_echo_returns_what_the_provider_would_have_received() -> None:
    request = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Summarise Q3"}]}
    response = await EchoUpstream().send(UpstreamRequest(openai.CHAT, orjson.dumps(request), False))
    body = orjson.loads(response.body or b"")
    assert response.status == 200
    assert orjson.loads(body["choices"][0]["message"]["content"]) == request
    assert body["usage"]["prompt_tokens"] > 0


async def test_echo_streams_sse_with_usage_and_done() -> None:
    request = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "x" * 100}]}
    response = await EchoUpstream().send(UpstreamRequest(openai.CHAT, orjson.dumps(request), True))
    assert response.chunks is not None
    raw = b"".join([chunk async for chunk in response.chunks])
    assert raw.endswith(b"data: [DONE]\n\n")
    payloads = [orjson.loads(e[6:]) for e in raw.split(b"\n\n") if e.startswith(b"data: {")]
    text = "".join(c["delta"].get("content", "") for p in payloads for c in p["choices"])
    assert orjson.loads(text) == request
    assert "usage" in payloads[-1]


async def test_echo_embeddings_are_deterministic() -> None:
    body = orjson.dumps({"model": "text-embedding-3-small", "input": ["a", "b"]})
    first = orjson.loads(
        (await EchoUpstream().send(UpstreamRequest(openai.EMBEDDINGS, body, False))).body or b""
    )
    second = orjson.loads(
        (await EchoUpstream().send(UpstreamRequest(openai.EMBEDDINGS, body, False))).body or b""
    )
    assert len(first["data"]) == 2
    assert first["data"] == second["data"]
