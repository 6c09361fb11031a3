"""What durable audit costs a request: the audit path alone, before and after, in CPU time.

    python bench/audit_durable.py                       # this checkout
    python bench/audit_durable.py --fsync               # audit.fsync: true (group fsync)
    python bench/audit_durable.py --fsync --concurrent 64   # 64 requests in flight at once
    PYTHONPATH=/tmp/skein-before python bench/audit_durable.py   # an older checkout's gateway/

Before (``submit``): the request path hands the event to a queue; a writer task stamps and
stores it in SQLite later. After (``record``): the request path stamps the event and writes
it to the spool before answering; a shipper stores it in SQLite later. Both store into the
same SQLite sink. Per event it reports:

* ``path``: time on the request path (what the caller waits for), median and P99;
* ``cpu``: CPU time of the whole process per event, the writer's work included (what
  limits throughput on a saturated core).

Events arrive at ``RATE`` per second (10 s per run). It uses CPU time
(``time.process_time``) for totals, so a busy machine changes little; the request-path
times are wall clock and do move with load: run it on a quiet machine, and compare runs
made back to back.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from gateway.audit.event import AuditEvent
from gateway.audit.sqlite import SqliteSink
from gateway.audit.writer import AuditWriter
from gateway.metrics import Metrics
from gateway.settings import AuditSettings

EVENTS = 20_000
RATE = 2000  # events per second, about what one gateway core serves (bench/results/latest.md)


def event(i: int) -> AuditEvent:
    """An event shaped like a real chat call's."""
    return AuditEvent(
        id=f"{i:024x}",
        ts=time.time(),
        request_id=f"{i:024x}",
        route="/v1/chat/completions",
        action="chat",
        decision_id=f"{i:024x}",
        sub=f"user-{i % 100}",
        roles=("finance",),
        tenant="acme",
        auth_method="jwt",
        requested_model="gpt-4o-mini",
        served_model="gpt-4o-mini",
        provider="openai",
        allow=True,
        reasons=("allowed",),
        status=200,
        upstream_status=200,
        guard_entities={"EMAIL_ADDRESS": 1},
        tokens_in=120,
        tokens_out=40,
        cost_usd=0.000042,
        latency_ms={"authenticate": 0.05, "profile": 0.01, "decide": 0.02, "upstream": 0.3, "total": 0.45},
        bundle_revision="sha256:28e495e48a9e23ab",
        bundle_digest="sha256:7a66a4bb19b44b5c1ee34139b7f03cbd842a0336f6fb485fb09c65d9d71f3bc4",
    )


def writer(tmp: Path, durable: bool, fsync: bool = False) -> AuditWriter:
    sink = SqliteSink(tmp / "audit.db", "bench")
    settings = AuditSettings(**({"fsync": True} if fsync else {}))  # older versions have no fsync
    metrics = Metrics(process=False)
    if durable:
        from gateway.audit.spool import Spool

        spool = Spool(tmp / "spool.ndjson", settings.spool_max_bytes, fsync=fsync)
        return AuditWriter(sink, spool, settings, metrics)
    return AuditWriter(sink, settings, metrics)  # type: ignore[call-arg,arg-type]


async def run(durable: bool, fsync: bool = False, concurrent: int = 1) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as tmp:  # the disk state_dir would be on
        audit = writer(Path(tmp), durable, fsync)
        await audit.start()
        events = [event(i) for i in range(EVENTS)]
        path: list[float] = []

        async def one(item: AuditEvent) -> None:
            started = time.perf_counter()
            if durable:
                await audit.record(item)
            else:
                audit.submit(item)
            path.append(time.perf_counter() - started)

        cpu = time.process_time()
        for start in range(0, EVENTS, concurrent):
            await asyncio.gather(*(one(item) for item in events[start : start + concurrent]))
            if start // concurrent % 8 == 7 or concurrent > 1:
                await asyncio.sleep(8 / RATE)  # paced like a server's requests; the writer runs between
        await audit.close()  # every event stored
        cpu = time.process_time() - cpu
    path.sort()
    return {
        "mode": ("record + fsync" if fsync else "record (durable)") if durable else "submit (before)",
        "path_p50_us": statistics.median(path) * 1e6,
        "path_p99_us": path[int(len(path) * 0.99)] * 1e6,
        "cpu_per_event_us": cpu / EVENTS * 1e6,
    }


def main() -> None:
    durable = hasattr(AuditWriter, "record")
    args = sys.argv[1:]
    concurrent = int(args[args.index("--concurrent") + 1]) if "--concurrent" in args else 1
    result = asyncio.run(run(durable, fsync="--fsync" in args, concurrent=concurrent))
    print(
        f"{result['mode']:<18} path P50 {result['path_p50_us']:6.1f} us  P99 {result['path_p99_us']:6.1f} us"
        f"  CPU per event {result['cpu_per_event_us']:6.1f} us  ({EVENTS} events, {concurrent} at once)"
    )


if __name__ == "__main__":
    main()
