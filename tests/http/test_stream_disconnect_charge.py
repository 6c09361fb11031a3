"""A caller who hangs up mid-stream is charged for what reached them (docs/routing.md):
before, the reservation was refunded whole, so reading an answer to its last event but one
and then disconnecting was a free call. Driven at the ASGI level: the client's disconnect is
an ``http.disconnect`` message right after the first bytes of the answer."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from gateway.app import create_app
from gateway.settings import Settings
from guard import Guard
from tests.support.issuer import TokenIssuer
from tests.support.upstream import FakeProvider


async def test_a_disconnect_mid_stream_is_charged_for_what_was_sent(
    gateway_settings: Settings, guard: Guard, token_issuer: TokenIssuer, fake_provider: FakeProvider
) -> None:
    token = token_issuer.mint(sub="quitter", roles=["finance"])
    body = orjson.dumps(
        {
            "model": "gpt-4o-mini",
            "stream": True,
            "messages": [{"role": "user", "content": "tell me a long story [[stall-mid]]"}],
        }
    )
    app = create_app(gateway_settings, guard=guard)
    async with app.app.router.lifespan_context(app.app) as state:
        got_bytes = asyncio.Event()
        sent: list[dict[str, Any]] = []
        requested = False

        async def receive() -> dict[str, Any]:
            nonlocal requested
            if not requested:
                requested = True
                return {"type": "http.request", "body": body, "more_body": False}
            await got_bytes.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)
            if message["type"] == "http.response.body" and message.get("body"):
                got_bytes.set()

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/v1/chat/completions",
            "raw_path": b"/v1/chat/completions",
            "query_string": b"",
            "root_path": "",
            "headers": [
                (b"host", b"skein.test"),
                (b"authorization", f"Bearer {token}".encode()),
                (b"content-type", b"application/json"),
            ],
            "client": ("127.0.0.1", 50000),
            "server": ("skein.test", 80),
            "state": dict(state or {}),
        }
        await asyncio.wait_for(app(scope, receive, send), timeout=20)
        assert sent[0]["status"] == 200 and got_bytes.is_set()
        gateway = (state or {})["gateway"]
        usage = await gateway.usage.snapshot("default", "quitter")
    assert usage["tokens_today"] > 0 and usage["spend_today_usd"] > 0, usage
