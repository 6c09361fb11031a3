"""The spool file: segments, headers, recovery after a kill, the size bound, the old format."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from gateway.audit.chain import ChainHead, StampedRecord, stamp
from gateway.audit.sink import AuditStoreError
from gateway.audit.spool import Spool, SpoolFull, SpoolPosition
from tests.audit.conftest import build_event

GENESIS = ChainHead()


def records(count: int, head: ChainHead = GENESIS) -> tuple[list[bytes], ChainHead]:
    lines = []
    for i in range(count):
        record, head = stamp(build_event(head.seq + 1 + i), "gw-1", head)
        lines.append(record.raw.encode())
    return lines, head


def fill(spool: Spool, count: int, head: ChainHead = GENESIS) -> ChainHead:
    lines, _ = records(count, head)
    for line in lines:
        parsed = StampedRecord.parse(line)
        spool.append(line + b"\n", parsed.head)
        head = parsed.head
    return head


def read_all(spool: Spool) -> list[int]:
    seqs, position = [], spool.start
    while True:
        lines, position = spool.read(position, 7)
        if not lines:
            return seqs
        seqs += [StampedRecord.parse(line).seq for line in lines]


def test_records_come_back_in_order_across_segments(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.ndjson", 1 << 20, segment_bytes=2000)
    assert spool.open() is None
    spool.begin(ChainHead())
    head = fill(spool, 20)
    assert len(list(tmp_path.glob("s.*.ndjson"))) > 3  # rotated
    assert read_all(spool) == list(range(1, 21))
    spool.close()

    reopened = Spool(tmp_path / "s.ndjson", 1 << 20, segment_bytes=2000)
    assert reopened.open() == head  # the head survives a restart
    assert reopened.first_head == ChainHead()
    assert read_all(reopened) == list(range(1, 21))
    reopened.close()


def test_release_deletes_finished_segments_and_keeps_the_head(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.ndjson", 1 << 20, segment_bytes=2000)
    spool.open()
    spool.begin(ChainHead())
    head = fill(spool, 20)
    before = spool.pending_bytes
    spool.release(spool.end)
    assert spool.pending_bytes == 0 < before
    assert len(list(tmp_path.glob("s.*.ndjson"))) == 1
    spool.close()
    reopened = Spool(tmp_path / "s.ndjson", 1 << 20)
    assert reopened.open() == head  # all shipped, yet the chain head is known
    reopened.close()


def test_a_torn_last_line_is_cut_on_open(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.ndjson", 1 << 20)
    spool.open()
    spool.begin(ChainHead())
    head = fill(spool, 3)
    spool.close()
    [segment] = tmp_path.glob("s.*.ndjson")
    with open(segment, "ab") as f:
        f.write(b'{"id":"ev-4","se')  # killed half-way through a write
    reopened = Spool(tmp_path / "s.ndjson", 1 << 20)
    assert reopened.open() == head
    fill(reopened, 1, head)
    assert read_all(reopened) == [1, 2, 3, 4]
    reopened.close()


def test_a_full_spool_refuses_and_writes_nothing(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.ndjson", 3000)
    spool.open()
    spool.begin(ChainHead())
    with pytest.raises(SpoolFull, match="limit 3000"):
        fill(spool, 10)
    written = read_all(spool)
    assert 0 < len(written) < 10
    spool.release(spool.end)  # shipped: room again
    fill(spool, 1, ChainHead(len(written), "x"))
    spool.close()


def test_one_process_per_spool(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.ndjson", 1 << 20)
    spool.open()
    with pytest.raises(AuditStoreError, match="another live process"):
        Spool(tmp_path / "s.ndjson", 1 << 20).open()
    spool.close()


def test_the_spool_file_of_earlier_versions_is_imported(tmp_path: Path) -> None:
    lines, head = records(5, ChainHead(10, "cd" * 32))
    (tmp_path / "s.ndjson").write_bytes(b"".join(line + b"\n" for line in lines) + b'{"torn')
    spool = Spool(tmp_path / "s.ndjson", 1 << 20)
    assert spool.open() == head
    assert spool.first_head == ChainHead(10, "cd" * 32)
    assert read_all(spool) == [11, 12, 13, 14, 15]
    assert not (tmp_path / "s.ndjson").exists()
    spool.close()


def test_positions_move_past_headers(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.ndjson", 1 << 20)
    spool.open()
    spool.begin(ChainHead())
    fill(spool, 2)
    lines, after = spool.read(SpoolPosition(1), 1)
    assert [orjson.loads(line)["seq"] for line in lines] == [1]
    assert after.offset > 0
    lines, end = spool.read(after, 10)
    assert [orjson.loads(line)["seq"] for line in lines] == [2]
    assert spool.read(end, 10) == ([], end)
    spool.close()
