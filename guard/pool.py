"""Where detection runs: worker processes (default) or a thread pool.

Measured on the 2-core target box: two threads analysing at once are ~3x *slower* than
one (spaCy's parser loop and blis contend), so threads give no parallelism. Separate
processes do: each loads the model once at start-up and then serves batches over a pipe.
A worker that exceeds the timeout is killed and replaced, so a pathological input can
never wedge the pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, Protocol

from guard.detector import Detector, DetectorSettings
from guard.errors import GuardUnavailable
from guard.policy import Detection, GuardPolicy

log = logging.getLogger(__name__)

Batch = Sequence[str]
Found = list[list[Detection]]
_Wire = list[list[tuple[str, int, int, float]]]


class Backend(Protocol):
    workers: int

    async def start(self) -> None: ...

    async def detect(self, texts: Batch, policy: GuardPolicy, timeout_s: float) -> Found: ...

    async def aclose(self) -> None: ...


class ThreadBackend:
    """One in-process detector behind a small thread pool (tests, single-core hosts)."""

    def __init__(
        self, settings: DetectorSettings, workers: int = 1, detector: Detector | None = None
    ) -> None:
        self.workers = workers
        self._settings = settings
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="guard")
        self._detector = detector  # a prebuilt one can be shared (tests, the eval command)

    async def start(self) -> None:
        if self._detector is None:
            loop = asyncio.get_running_loop()
            self._detector = await loop.run_in_executor(self._executor, Detector, self._settings)

    async def detect(self, texts: Batch, policy: GuardPolicy, timeout_s: float) -> Found:
        if self._detector is None:
            raise GuardUnavailable("guard not started")
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._executor, self._detector.detect, list(texts), policy)
        try:
            return await asyncio.wait_for(future, timeout_s)
        except TimeoutError as exc:  # the thread finishes in the background; cannot be killed
            raise GuardUnavailable("detection timed out") from exc

    async def aclose(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def _worker_main(conn: Connection, settings: DetectorSettings) -> None:
    """Entry point of a worker process: the detector is a local, loaded once."""
    try:
        detector = Detector(settings)
    except Exception as exc:  # report instead of dying silently
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", None))
    while True:
        try:
            texts, policy = conn.recv()
        except (EOFError, OSError):
            return
        try:
            found = detector.detect(texts, policy)
            conn.send(("ok", [[(d.entity, d.start, d.end, d.score) for d in part] for part in found]))
        except Exception as exc:
            conn.send(("error", type(exc).__name__))


class _Worker:
    def __init__(self, process: BaseProcess, conn: Connection) -> None:
        self.process = process
        self.conn = conn

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.close()
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=1)


class ProcessBackend:
    def __init__(self, settings: DetectorSettings, workers: int, start_timeout_s: float = 60.0) -> None:
        self.workers = workers
        self._settings = settings
        self._start_timeout = start_timeout_s
        self._ctx = multiprocessing.get_context("spawn")  # fork is unsafe with threads/event loop
        self._idle: asyncio.Queue[_Worker] = asyncio.Queue()
        self._all: set[_Worker] = set()
        self._respawns: set[asyncio.Task[None]] = set()
        self._closed = False

    async def start(self) -> None:
        await asyncio.gather(*(self._spawn() for _ in range(self.workers)))

    async def _spawn(self) -> None:
        parent, child = self._ctx.Pipe()
        process = self._ctx.Process(
            target=_worker_main, args=(child, self._settings), daemon=True, name="skein-guard"
        )
        process.start()
        child.close()
        worker = _Worker(process, parent)
        self._all.add(worker)
        try:
            status, detail = await asyncio.wait_for(_receive(parent), self._start_timeout)
        except (TimeoutError, EOFError, OSError) as exc:
            self._retire(worker)
            raise GuardUnavailable("guard worker failed to start") from exc
        if status != "ready":
            self._retire(worker)
            raise GuardUnavailable(f"guard worker failed to start: {detail}")
        self._idle.put_nowait(worker)

    async def detect(self, texts: Batch, policy: GuardPolicy, timeout_s: float) -> Found:
        if self._closed:
            raise GuardUnavailable("guard is closed")
        worker = await asyncio.wait_for(self._idle.get(), timeout_s)
        try:
            worker.conn.send((list(texts), policy))
            status, payload = await asyncio.wait_for(_receive(worker.conn), timeout_s)
        except (TimeoutError, EOFError, OSError) as exc:
            self._replace(worker)
            raise GuardUnavailable("detection timed out or the worker died") from exc
        except asyncio.CancelledError:
            self._replace(worker)  # its answer would be read by the next caller otherwise
            raise
        self._idle.put_nowait(worker)
        if status != "ok":
            raise GuardUnavailable(f"detection failed: {payload}")
        return [[Detection(*d) for d in part] for part in payload]

    def _retire(self, worker: _Worker) -> None:
        self._all.discard(worker)
        worker.kill()

    def _replace(self, worker: _Worker) -> None:
        self._retire(worker)
        if not self._closed:
            task = asyncio.get_running_loop().create_task(self._respawn())
            self._respawns.add(task)
            task.add_done_callback(self._respawns.discard)

    async def _respawn(self) -> None:
        try:
            await self._spawn()
        except GuardUnavailable:
            # The pool runs one worker short; calls still fail closed if none is left.
            log.error("guard worker could not be replaced")

    async def aclose(self) -> None:
        self._closed = True
        for task in list(self._respawns):
            task.cancel()
        for worker in list(self._all):
            self._retire(worker)


async def _receive(conn: Connection) -> Any:
    """Await one message without blocking the loop: wake up when the pipe is readable."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()
    fd = conn.fileno()

    def on_readable() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(fd, on_readable)
    try:
        await ready
    finally:
        loop.remove_reader(fd)
    return conn.recv()  # the whole message follows promptly: the worker is writing it
