"""What triggers a reload: a poll timer and SIGHUP, both owned by the app's lifespan.

* **Polling**: every ``interval`` seconds the store asks its source for a change; a source
  answers "unchanged" cheaply (a ``stat``, an ETag ``304``), so only a new bundle costs a
  verify and a compile. The file and URL sources poll at ``poll_interval_seconds``; in dev
  mode with ``watch`` every second, which is what makes an edit show up at once.
* **SIGHUP**: an operator's (or a deploy script's) "reload now"; it forces a fetch that
  ignores the change detectors. The handler is installed on the running loop with
  ``loop.add_signal_handler`` and removed on shutdown, so it lives exactly as long as the
  store it reloads.

Reloads never overlap (the store's lock) and never raise here: a failed one is logged and
counted by the store, and the loop goes on, so a bad bundle cannot stop later good ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Coroutine
from typing import Any

from gateway.bundle.store import BundleStore

log = logging.getLogger("skein.bundle")


class Reloader:
    def __init__(self, store: BundleStore, *, interval: float | None) -> None:
        self._store = store
        self._interval = interval  # None: no polling (a source directory outside dev mode)
        self._tasks: set[asyncio.Task[None]] = set()
        self._sighup = False

    def start(self) -> None:
        if self._interval is not None:
            self._spawn(self._poll(self._interval))
        loop = asyncio.get_running_loop()
        try:
            loop.add_signal_handler(signal.SIGHUP, self._on_sighup)
            self._sighup = True
        except (NotImplementedError, RuntimeError, ValueError):  # no signals here (Windows, thread)
            log.warning("SIGHUP reload is not available in this process")

    async def aclose(self) -> None:
        if self._sighup:
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
            self._sighup = False
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _on_sighup(self) -> None:
        log.info("SIGHUP: reloading the bundle", extra={"source": self._store.source.origin})
        self._spawn(self._store.refresh(force=True))

    async def _poll(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            await self._store.refresh()

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)  # a reference, so the task is not garbage-collected mid-flight
        task.add_done_callback(self._tasks.discard)
