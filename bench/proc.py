"""CPU accounting from /proc: per-process CPU time, process trees, per-CPU busy time.

The driver charges CPU to four parties per measurement: the target (its process group
and every descendant, plus whatever listens on its port), the fake upstream, the load
generator (wrk or the SSE client, from the driver's child rusage) and "foreign" (the
rest: other users of the machine). Foreign CPU is the noise flag.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from dataclasses import dataclass

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class ProcStat:
    ppid: int
    pgrp: int
    ticks: int  # utime + stime


def proc_stat(pid: int) -> ProcStat | None:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            raw = handle.read()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    # after "(comm)": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
    return ProcStat(ppid=int(fields[1]), pgrp=int(fields[2]), ticks=int(fields[11]) + int(fields[12]))


def all_procs() -> dict[int, ProcStat]:
    procs = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            stat = proc_stat(int(name))
            if stat is not None:
                procs[int(name)] = stat
    return procs


def listeners(port: int) -> set[int]:
    """Pids listening on a TCP port (needs `ss` from iproute2)."""
    try:
        out = subprocess.run(
            ["ss", "-ltnpH", f"sport = :{port}"], capture_output=True, text=True, timeout=10
        ).stdout
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return set()
    return {int(pid) for pid in re.findall(r"pid=(\d+)", out)}


def port_in_use(port: int) -> bool:
    try:
        out = subprocess.run(
            ["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True, timeout=10
        ).stdout
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return False
    return bool(out.strip())


def process_tree(groups: set[int], roots: set[int]) -> set[int]:
    """Pids in the given process groups or under the given roots, with all descendants."""
    procs = all_procs()
    pids = {pid for pid, stat in procs.items() if stat.pgrp in groups} | (roots & procs.keys())
    grew = True
    while grew:
        grew = False
        for pid, stat in procs.items():
            if pid not in pids and stat.ppid in pids:
                pids.add(pid)
                grew = True
    return pids


def cpu_seconds(pids: set[int]) -> float:
    ticks = 0
    for pid in pids:
        stat = proc_stat(pid)
        if stat is not None:
            ticks += stat.ticks
    return ticks / CLOCK_TICKS


def cpu_busy() -> dict[str, tuple[int, int]]:
    """Per CPU: (busy ticks, total ticks) since boot."""
    result = {}
    with open("/proc/stat") as handle:
        for line in handle:
            if line.startswith("cpu") and line[3].isdigit():
                parts = line.split()
                values = [int(v) for v in parts[1:9]]
                idle = values[3] + values[4]  # idle + iowait
                result[parts[0]] = (sum(values) - idle, sum(values))
    return result


def busy_seconds(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]) -> float:
    return sum(after[cpu][0] - before[cpu][0] for cpu in after if cpu in before) / CLOCK_TICKS


def busy_share(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]) -> dict[str, float]:
    return {
        cpu: round((after[cpu][0] - before[cpu][0]) / max(1, after[cpu][1] - before[cpu][1]), 3)
        for cpu in after
        if cpu in before
    }


def wait_quiet(max_cores: float, max_wait_s: float) -> tuple[float, float]:
    """Wait until the whole machine is busy for at most `max_cores` over a 1 s window.

    Returns (busy cores in the last window, seconds waited); gives up after `max_wait_s`.
    """
    started = time.monotonic()
    while True:
        before = cpu_busy()
        time.sleep(1.0)
        busy = busy_seconds(before, cpu_busy())
        waited = time.monotonic() - started
        if busy <= max_cores or waited >= max_wait_s:
            return round(busy, 2), round(waited, 1)


def loadavg() -> str:
    with open("/proc/loadavg") as handle:
        return " ".join(handle.read().split()[:3])
