"""The server's connection limits (gateway/http/server.py), over real sockets, in process.

The protocol runs on a real listening socket in the test's event loop, with a small ASGI app,
and raw asyncio connections play the hostile clients. Client and server share one loop, so
"the server's 0.5 s deadline fires before the client's 3 s wait ends" holds by timer order,
not by luck: nothing here depends on how fast the machine is. The same limits are checked
against the real ``skein serve`` process, with memory bounds, in tests/e2e/test_limits.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from typing import Any

import orjson
import pytest
import uvicorn
from uvicorn.server import ServerState

from gateway.errors import Unavailable
from gateway.http.server import ServerLimits, protocol_for, render
from gateway.settings import ServerSettings

LIMITS = ServerLimits(
    header_timeout=0.5,
    body_timeout=0.5,
    idle_timeout=0.5,
    write_timeout=0.5,
    max_header_bytes=8 * 1024,
    max_headers=20,
    max_connections=50,
    retry_after_seconds=7,
)
ENDLESS = 16 * 1024 * 1024  # what /endless sends: far more than the socket buffers hold
NEVER = 3.0  # what a hostile client waits: always longer than every deadline above
PATIENCE = 30.0  # a bound on how long the test waits for the server: never reached when it works


@dataclass
class App:
    """Echoes the body length; ``/endless`` streams until the client is gone."""

    disconnects: int = 0
    bodies: list[int] = field(default_factory=list)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] == "/early":  # answers without reading the body (as a 401 would)
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"5")]})
            await send({"type": "http.response.body", "body": b"early"})
            return
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                self.disconnects += 1
                return
            size += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        self.bodies.append(size)
        if scope["path"] == "/endless":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            chunk = b"x" * 65536
            for _ in range(ENDLESS // len(chunk)):  # flow control parks a send the client does not read
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
            return
        body = b"ok %d" % size
        headers = [(b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


@dataclass
class Server:
    port: int
    app: App
    state: ServerState


@contextlib.asynccontextmanager
async def serving(limits: ServerLimits = LIMITS) -> AsyncIterator[Server]:
    app = App()
    config = uvicorn.Config(app, lifespan="off", log_config=None, ws="none")
    config.load()
    state = ServerState()
    protocol = protocol_for(limits)
    loop = asyncio.get_running_loop()
    listener = await loop.create_server(
        lambda: protocol(config=config, server_state=state, app_state={}), "127.0.0.1", 0
    )
    try:
        yield Server(listener.sockets[0].getsockname()[1], app, state)
    finally:
        listener.close()
        for connection in list(state.connections):
            connection.transport.abort()
        for task in list(state.tasks):
            task.cancel()
        await listener.wait_closed()


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    async with serving() as running:
        yield running


Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def connect(server: Server, rcvbuf: int | None = None) -> Conn:
    sock = socket.socket()
    if rcvbuf is not None:  # a small window makes the server's send buffer fill quickly
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", server.port))
    return await asyncio.open_connection(sock=sock)


async def read_to_end(reader: asyncio.StreamReader) -> bytes:
    """Everything until the server closes (a reset counts as a close), or fail the test."""
    data = b""
    async with asyncio.timeout(PATIENCE):
        while True:
            try:
                piece = await reader.read(65536)
            except ConnectionError:
                return data
            if not piece:
                return data
            data += piece


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def code(self) -> str:
        return str(orjson.loads(self.body)["error"]["code"])


def parse(raw: bytes) -> Reply:
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines)
    return Reply(int(status_line.split()[1]), {k.lower(): v for k, v in headers.items()}, body)


async def drip(writer: asyncio.StreamWriter, piece: bytes, times: int, every: float = 0.1) -> None:
    """Send ``piece`` ``times`` times, slowly; stop quietly once the server has closed."""
    with contextlib.suppress(ConnectionError):
        for _ in range(times):
            writer.write(piece)
            await writer.drain()
            await asyncio.sleep(every)


def request(path: str = "/", *, headers: dict[str, str] | None = None, body: bytes = b"") -> bytes:
    lines = [f"POST {path} HTTP/1.1", "host: test", f"content-length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def exchange(server: Server, raw: bytes) -> Reply:
    reader, writer = await connect(server)
    writer.write(raw)
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), PATIENCE)
    reply = parse(head)
    body = await asyncio.wait_for(reader.readexactly(int(reply.headers["content-length"])), PATIENCE)
    writer.close()
    return replace(reply, body=body)


# -- a well-behaved client is untouched ------------------------------------------------------------


async def test_an_ordinary_request_with_its_body_in_the_same_packet(server: Server) -> None:
    # The body makes the packet larger than max_header_bytes: only the head counts.
    body = b"y" * (3 * LIMITS.max_header_bytes)
    reply = await exchange(server, request(body=body, headers={"x-near-limit": "h" * 6000}))
    assert (reply.status, reply.body) == (200, b"ok %d" % len(body))


async def test_keep_alive_and_pipelining_still_work(server: Server) -> None:
    reader, writer = await connect(server)
    writer.write(request(body=b"a") + request(body=b"bb"))
    first = await asyncio.wait_for(reader.readuntil(b"ok 1"), PATIENCE)
    second = await asyncio.wait_for(reader.readuntil(b"ok 2"), PATIENCE)
    assert b" 200 " in first and b" 200 " in second
    writer.write(request(body=b"ccc"))
    assert b"ok 3" in await asyncio.wait_for(reader.readuntil(b"ok 3"), PATIENCE)
    writer.close()


# -- slow clients ----------------------------------------------------------------------------------


async def test_slowloris_headers_get_408_and_the_connection_closes(server: Server) -> None:
    reader, writer = await connect(server)
    writer.write(b"POST / HTTP/1.1\r\nhost: test\r\n")
    dripping = asyncio.ensure_future(drip(writer, b"x-slow: 1\r\n", times=int(NEVER / 0.1)))
    reply = parse(await read_to_end(reader))
    dripping.cancel()
    assert (reply.status, reply.code) == (408, "header_timeout")
    assert reply.headers["connection"] == "close"
    assert server.app.bodies == []  # the application never saw it


async def test_an_idle_new_connection_is_closed(server: Server) -> None:
    reader, _ = await connect(server)
    assert await read_to_end(reader) == b""


async def test_blank_lines_do_not_keep_a_connection_open(server: Server) -> None:
    reader, writer = await connect(server)
    dripping = asyncio.ensure_future(drip(writer, b"\r\n", times=int(NEVER / 0.1)))
    assert await read_to_end(reader) == b""
    dripping.cancel()


async def test_an_idle_keep_alive_connection_is_closed_after_a_response(server: Server) -> None:
    reader, writer = await connect(server)
    writer.write(request(body=b"a"))
    raw = await read_to_end(reader)
    assert parse(raw).status == 200 and raw.endswith(b"ok 1")


async def test_a_body_shorter_than_its_content_length_gets_408(server: Server) -> None:
    reader, writer = await connect(server)
    writer.write(b"POST / HTTP/1.1\r\nhost: test\r\ncontent-length: 100\r\n\r\n" + b"z" * 10)
    reply = parse(await read_to_end(reader))
    assert (reply.status, reply.code) == (408, "body_timeout")
    await wait_for(lambda: server.app.disconnects == 1)  # the app saw the client gone, not a short body
    assert server.app.bodies == []


async def test_a_body_left_unsent_after_an_early_answer_only_closes(server: Server) -> None:
    reader, writer = await connect(server)
    writer.write(b"POST /early HTTP/1.1\r\nhost: test\r\ncontent-length: 100\r\n\r\n" + b"z" * 10)
    raw = await read_to_end(reader)
    assert parse(raw).status == 200
    assert raw.endswith(b"\r\n\r\nearly")  # nothing after the answer: no stray 408


async def test_a_slow_body_is_cut(server: Server) -> None:
    reader, writer = await connect(server)
    writer.write(b"POST / HTTP/1.1\r\nhost: test\r\ntransfer-encoding: chunked\r\n\r\n")
    dripping = asyncio.ensure_future(drip(writer, b"1\r\nz\r\n", times=int(NEVER / 0.1)))
    reply = parse(await read_to_end(reader))
    dripping.cancel()
    assert (reply.status, reply.code) == (408, "body_timeout")
    assert server.app.bodies == []


async def test_a_client_that_stops_reading_is_dropped() -> None:
    async with serving() as server:
        reader, writer = await connect(server, rcvbuf=4096)
        writer.write(request("/endless"))
        await asyncio.sleep(NEVER)  # not reading: the server's send buffer fills and stays full
        received = 0
        async with asyncio.timeout(PATIENCE):  # endless unless the server dropped the connection
            with contextlib.suppress(ConnectionError):
                while piece := await reader.read(65536):
                    received += len(piece)
        writer.close()
        assert 0 < received < ENDLESS  # cut off, not merely slow


# -- sizes -----------------------------------------------------------------------------------------


async def test_a_huge_header_gets_431_long_before_its_end(server: Server) -> None:
    reader, writer = await connect(server)
    writer.write(b"POST / HTTP/1.1\r\nhost: test\r\nx-huge: ")
    # 16 MB in 64 KB pieces; the server answers after the first few and then drops the rest.
    sending = asyncio.ensure_future(drip(writer, b"h" * 65536, times=256, every=0))
    reply = parse(await read_to_end(reader))
    sending.cancel()
    assert (reply.status, reply.code) == (431, "headers_too_large")


async def test_headers_within_the_limit_pass(server: Server) -> None:
    headers = {f"x-h{i}": "v" * 300 for i in range(LIMITS.max_headers - 3)}  # host, length: 2 more
    assert (await exchange(server, request(headers=headers))).status == 200


async def test_too_many_header_fields_get_431(server: Server) -> None:
    headers = {f"x-h{i}": "v" for i in range(LIMITS.max_headers)}
    reply = await exchange(server, request(headers=headers))
    assert (reply.status, reply.code) == (431, "too_many_headers")


async def test_not_http_gets_a_400_in_the_gateway_format(server: Server) -> None:
    reply = await exchange(server, b"HELLO WORLD\r\n\r\n")
    assert (reply.status, reply.code) == (400, "malformed_http")


# -- the connection cap ----------------------------------------------------------------------------


async def test_one_connection_too_many_gets_503_with_retry_after() -> None:
    limits = replace(LIMITS, max_connections=2, idle_timeout=PATIENCE)
    async with serving(limits) as server:
        held = [await connect(server) for _ in range(2)]
        await wait_for(lambda: len(server.state.connections) == 2)
        reader, writer = await connect(server)
        writer.write(request(body=b"a"))
        reply = parse(await read_to_end(reader))
        assert (reply.status, reply.code) == (503, "too_many_connections")
        assert reply.headers["retry-after"] == "7"
        held[0][1].close()  # a slot frees up: the next connection is served
        await wait_for(lambda: len(server.state.connections) == 1)
        assert (await exchange(server, request(body=b"a"))).status == 200


async def wait_for(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(PATIENCE):
        while not condition():
            await asyncio.sleep(0.01)


def test_render_is_a_complete_http_response() -> None:
    error = Unavailable("busy", reason="too_many_connections", headers={"retry-after": "1"})
    reply = parse(render(error, [(b"date", b"today")]))
    assert (reply.status, reply.code) == (503, "too_many_connections")
    assert reply.headers["content-length"] == str(len(reply.body))
    assert reply.headers["retry-after"] == "1" and reply.headers["date"] == "today"


def test_limits_come_from_settings() -> None:
    limits = ServerLimits.from_settings(ServerSettings(header_timeout_seconds=3, max_connections=9))
    assert (limits.header_timeout, limits.max_connections, limits.idle_timeout) == (3, 9, 75)
