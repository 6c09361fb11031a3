"""Closed-loop load generator for streamed chat completions: time to first token and streams/s.

wrk only sees the last byte of a stream. This client keeps N keep-alive HTTP/1.1
connections busy for a fixed time and, per stream, records the time from writing the
request to the first `data:` event (TTFT) and to the end of the stream. It is heavier than
wrk, so the driver runs it pinned to the rig CPU with a paced upstream (where TTFT means
something). Prints one JSON object. Bounded by --duration; talks only to --url.

    python -m bench.sse_client --url http://127.0.0.1:8500 --body body_stream_paced.json -c 16 -d 5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit


@dataclass
class Samples:
    ttft: list[float] = field(default_factory=list)
    total: list[float] = field(default_factory=list)
    events: int = 0
    errors: list[str] = field(default_factory=list)
    header_sum: float = 0.0
    header_count: int = 0


def percentile(values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile (None for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-pct * len(ordered) // 100))))
    return ordered[rank - 1]


async def _read_stream(reader: asyncio.StreamReader, head: bytes) -> tuple[float | None, int]:
    """Consume one response body; returns (time of the first data event, number of events)."""
    first: float | None = None
    events = 0
    if b"transfer-encoding: chunked" in head:
        while True:
            size = int((await reader.readline()).split(b";")[0].strip(), 16)
            if size == 0:
                await reader.readline()
                return first, events
            data = await reader.readexactly(size + 2)
            if first is None and b"data:" in data:
                first = time.perf_counter()
            events += data.count(b"data:")
    start = head.find(b"content-length:")
    length = int(head[start + 15 : head.index(b"\r\n", start)]) if start >= 0 else 0
    data = await reader.readexactly(length)
    return time.perf_counter(), data.count(b"data:")


async def _worker(host: str, port: int, request: bytes, deadline: float, header: bytes, out: Samples) -> None:
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    while time.perf_counter() < deadline:
        try:
            if reader is None or writer is None:
                reader, writer = await asyncio.open_connection(host, port)
            started = time.perf_counter()
            writer.write(request)
            head = (await reader.readuntil(b"\r\n\r\n")).lower()
            status = int(head.split(b" ", 2)[1])
            first, events = await _read_stream(reader, head)
            ended = time.perf_counter()
            if status != 200:
                out.errors.append(f"status {status}")
            else:
                out.ttft.append((first or ended) - started)
                out.total.append(ended - started)
                out.events += events
                _add_header(head, header, out)
            if b"connection: close" in head:
                writer.close()
                reader = writer = None
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            out.errors.append(repr(exc)[:120])
            if writer is not None:
                writer.close()
            reader = writer = None
            await asyncio.sleep(0.01)
    if writer is not None:
        writer.close()


def _add_header(head: bytes, header: bytes, out: Samples) -> None:
    if not header:
        return
    at = head.find(b"\r\n" + header + b":")
    if at < 0:
        return
    start = at + len(header) + 3
    try:
        out.header_sum += float(head[start : head.index(b"\r\n", start)].strip())
        out.header_count += 1
    except ValueError:
        pass


def build_request(host: str, port: int, path: str, token: str, body: bytes) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nAccept: text/event-stream\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def run(args: argparse.Namespace) -> dict[str, object]:
    url = urlsplit(args.url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    request = build_request(host, port, args.path, args.token, Path(args.body).read_bytes())
    header = args.header.lower().encode()
    warm = Samples()
    warm_end = time.perf_counter() + args.warmup
    await asyncio.gather(
        *(_worker(host, port, request, warm_end, header, warm) for _ in range(args.concurrency))
    )
    samples = Samples()
    started = time.perf_counter()
    deadline = started + args.duration
    await asyncio.gather(
        *(_worker(host, port, request, deadline, header, samples) for _ in range(args.concurrency))
    )
    elapsed = time.perf_counter() - started
    return summarise(samples, elapsed, args.concurrency)


def summarise(samples: Samples, elapsed: float, concurrency: int) -> dict[str, object]:
    def ms(value: float | None) -> float | None:
        return None if value is None else round(value * 1000, 3)

    done = len(samples.total)
    return {
        "concurrency": concurrency,
        "duration_s": round(elapsed, 2),
        "streams": done,
        "streams_per_s": round(done / elapsed, 1) if elapsed > 0 else 0.0,
        "errors": len(samples.errors),
        "error_sample": samples.errors[:3],
        "events_per_stream": round(samples.events / done, 1) if done else 0.0,
        "ttft_p50_ms": ms(percentile(samples.ttft, 50)),
        "ttft_p99_ms": ms(percentile(samples.ttft, 99)),
        "total_p50_ms": ms(percentile(samples.total, 50)),
        "total_p99_ms": ms(percentile(samples.total, 99)),
        "header_sum": round(samples.header_sum, 6),
        "header_count": samples.header_count,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="streams/s and time to first token over keep-alive HTTP/1.1")
    parser.add_argument("--url", required=True)
    parser.add_argument("--path", default="/v1/chat/completions")
    parser.add_argument("--body", required=True, help='JSON request body file (with "stream": true)')
    parser.add_argument("--token", default="sk-bench-1234")
    parser.add_argument("--header", default="", help="numeric response header to average")
    parser.add_argument("-c", "--concurrency", type=int, default=4)
    parser.add_argument("-d", "--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    args = parser.parse_args(argv)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    print(json.dumps(asyncio.run(run(args))), flush=True)


if __name__ == "__main__":
    main()
