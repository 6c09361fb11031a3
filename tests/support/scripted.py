"""A fake provider whose failures are scripted: each chat call takes the next step of a script.

Steps (then, with the script empty, ordinary answers from ``FakeProvider``)::

    ok               answer normally
    429:SECONDS      429 with ``Retry-After: SECONDS`` (``429`` alone: no Retry-After)
    500, 503, ...    that status with an OpenAI-style error body
    reset            close the connection without answering
    hang             say nothing until the gateway gives up (read timeout)

Every call's model is in ``models`` (what the gateway asked this provider for).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

from aiohttp import web

from tests.support.upstream import FakeProvider


class ScriptedProvider(FakeProvider):
    def __init__(self) -> None:
        super().__init__()
        self.script: deque[str] = deque()
        self.models: list[str] = []

    def then(self, *steps: str) -> ScriptedProvider:
        self.script.extend(steps)
        return self

    def reset(self) -> None:
        self.script.clear()
        self.models.clear()
        self.received.clear()

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        step = self.script.popleft() if self.script else "ok"
        if step == "ok":
            response = await super()._chat(request)
            self.models.append(str(self.received[-1].get("model")))
            return response
        body = await self._record(request)
        self.models.append(str(body.get("model")))
        if step == "reset":
            assert request.transport is not None
            request.transport.abort()
            return web.Response(status=500)
        if step == "hang":  # until the gateway hangs up (never answers)
            while request.transport is not None and not request.transport.is_closing():
                await asyncio.sleep(0.02)
            return web.Response(status=500)
        code, _, retry_after = step.partition(":")
        headers = {"retry-after": retry_after} if retry_after else {}
        error = {"error": {"message": f"scripted {code}", "type": "server_error", "code": None}}
        return web.json_response(error, status=int(code), headers=headers)


@contextmanager
def scripted_providers(*names: str) -> Iterator[dict[str, ScriptedProvider]]:
    """One started scripted provider per name, stopped on the way out."""
    started = {name: ScriptedProvider().start() for name in names}
    try:
        yield started
    finally:
        for provider in started.values():
            provider.stop()
