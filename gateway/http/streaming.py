"""A streaming response that always tells the pipeline how the stream ended.

``on_close`` runs exactly once, after the last byte, after an upstream failure mid-stream
(the client then gets a final error event in the dialect's stream format, since the status
line is already sent),
or when the client disconnected (recorded as 499 ``client_disconnected``).

Why not Starlette's ``StreamingResponse``: under ASGI spec 2.3 (uvicorn) it runs every
stream inside an anyio task group with a second task listening for the disconnect, which
costs more than the relaying itself at a thousand streams per second. Here one pending
``receive()`` future watches for the disconnect and cancels the sending task when it comes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from gateway.errors import ClientDisconnected, GatewayError

OnClose = Callable[[GatewayError | None], Awaitable[None]]
ErrorEvent = Callable[[GatewayError], bytes]  # the dialect's in-stream error event


class TrailStreamingResponse(Response):
    def __init__(
        self,
        content: AsyncIterator[bytes],
        *,
        on_close: OnClose,
        error_event: ErrorEvent,
        status_code: int,
        headers: dict[str, str],
        media_type: str,
    ) -> None:
        self._content = content
        self._on_close = on_close
        self._error_event = error_event
        self.status_code = status_code
        self.media_type = media_type
        self.background = None
        self.init_headers(headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        error: GatewayError | None = None
        finished = False
        sender = asyncio.current_task()
        watcher = asyncio.ensure_future(_disconnected(receive))
        watcher.add_done_callback(lambda w: _cancel_unless_done(w, sender, lambda: finished))
        try:
            start = {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
            await send(start)
            try:
                async for chunk in self._content:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            except GatewayError as exc:
                error = exc
                event = self._error_event(exc)
                await send({"type": "http.response.body", "body": event, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            finished = True
        except asyncio.CancelledError:
            if not watcher.done() or watcher.cancelled():
                raise  # cancelled for another reason (shutdown): not ours to swallow
            if sender is not None:
                sender.uncancel()  # we asked for this cancellation; the task carries on normally
        finally:
            watcher.cancel()
            aclose = getattr(self._content, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()  # release the upstream connection now, not at garbage collection
            if error is None and not finished:
                error = ClientDisconnected("the client closed the connection before the stream ended")
            await self._on_close(error)


async def _disconnected(receive: Receive) -> None:
    """Returns when the client is gone (the request body was already read)."""
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            return


def _cancel_unless_done(
    watcher: asyncio.Future[None], sender: asyncio.Task[object] | None, finished: Callable[[], bool]
) -> None:
    if not watcher.cancelled() and sender is not None and not finished():
        sender.cancel()
