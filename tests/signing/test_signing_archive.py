"""The tar.gz reader refuses anything unsafe before a signature is even looked at."""

from __future__ import annotations

import gzip
import io
import struct
import tarfile
import zlib

import pytest

from signing import (
    ArchiveError,
    ArchiveTooLarge,
    DecompressionLimit,
    DuplicateMember,
    Limits,
    LinkMember,
    MemberTooLarge,
    SpecialMember,
    UnsafePath,
)
from signing.archive import read_archive, write_archive
from tests.signing.helpers import raw_tar_gz, tar_gz_with


@pytest.mark.parametrize("name", ["../x.rego", "a/../../x.rego", "./x.rego", "a//b.rego", "a/./b.rego"])
def test_path_traversal_is_refused(name: str) -> None:
    with pytest.raises(UnsafePath) as exc:
        read_archive(raw_tar_gz({name: b"x"}))
    assert exc.value.reason == "unsafe_path" and exc.value.file == name


@pytest.mark.parametrize("name", ["//etc/passwd", "C:/x.rego", "c:\\x.rego", "a\\..\\b"])
def test_absolute_and_windows_paths_are_refused(name: str) -> None:
    with pytest.raises(UnsafePath):
        read_archive(raw_tar_gz({name: b"x"}))


def test_one_leading_slash_is_the_bundle_root() -> None:
    # OPA's own writer names members "/.manifest", "/x.rego": that is the root, not "/".
    assert read_archive(raw_tar_gz({"/x.rego": b"a", "y.rego": b"b"})) == {"x.rego": b"a", "y.rego": b"b"}


def test_symlink_is_refused() -> None:
    link = tarfile.TarInfo("policy.rego")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    with pytest.raises(LinkMember) as exc:
        read_archive(tar_gz_with([(link, None)]))
    assert exc.value.reason == "link_member" and exc.value.file == "policy.rego"


def test_hard_link_is_refused() -> None:
    target = tarfile.TarInfo("a.rego")
    target.size = 1
    link = tarfile.TarInfo("b.rego")
    link.type, link.linkname = tarfile.LNKTYPE, "a.rego"
    with pytest.raises(LinkMember):
        read_archive(tar_gz_with([(target, b"x"), (link, None)]))


@pytest.mark.parametrize("kind", [tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE])
def test_device_and_fifo_members_are_refused(kind: bytes) -> None:
    device = tarfile.TarInfo("dev.rego")
    device.type = kind
    with pytest.raises(SpecialMember) as exc:
        read_archive(tar_gz_with([(device, None)]))
    assert exc.value.reason == "special_member"


def test_duplicate_names_are_refused() -> None:
    with pytest.raises(DuplicateMember) as exc:
        read_archive(raw_tar_gz({"/a.rego": b"1", "a.rego": b"2"}))
    assert exc.value.file == "a.rego"


def test_directory_entries_are_skipped() -> None:
    folder = tarfile.TarInfo("profiles/")
    folder.type = tarfile.DIRTYPE
    data = tarfile.TarInfo("profiles/data.json")
    data.size = 2
    assert read_archive(tar_gz_with([(folder, None), (data, b"{}")])) == {"profiles/data.json": b"{}"}


def test_member_over_the_limit_is_refused() -> None:
    with pytest.raises(MemberTooLarge) as exc:
        read_archive(raw_tar_gz({"big.rego": b"x" * 2000}), Limits(max_member_bytes=1000))
    assert exc.value.file == "big.rego" and exc.value.reason == "member_too_large"


def test_total_over_the_limit_is_refused() -> None:
    members = {f"m{i}.rego": b"x" * 600 for i in range(4)}
    with pytest.raises(ArchiveTooLarge):
        read_archive(raw_tar_gz(members), Limits(max_member_bytes=1000, max_total_bytes=2000))


def test_too_many_members_are_refused() -> None:
    with pytest.raises(ArchiveTooLarge):
        read_archive(raw_tar_gz({f"m{i}.rego": b"" for i in range(20)}), Limits(max_members=10))


def test_compressed_size_over_the_limit_is_refused() -> None:
    with pytest.raises(ArchiveTooLarge):
        read_archive(raw_tar_gz({"a.rego": b"x"}), Limits(max_compressed_bytes=10))


def _bomb(size: int) -> bytes:
    """Zeros compressed ~1000:1, with a gzip trailer that lies about the size (claims 10 bytes)."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    body = deflate.compress(bytes(size)) + deflate.flush()
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    return header + body + struct.pack("<II", zlib.crc32(bytes(size)), 10)


def test_gzip_bomb_stops_at_the_cap() -> None:
    bomb = _bomb(64 * 1024 * 1024)
    assert len(bomb) < 100_000
    with pytest.raises(DecompressionLimit) as exc:
        read_archive(bomb, Limits(max_decompressed_bytes=1024 * 1024))
    assert exc.value.reason == "decompression_limit"


def test_not_gzip_is_refused() -> None:
    with pytest.raises(ArchiveError) as exc:
        read_archive(b"PK\x03\x04 definitely a zip")
    assert exc.value.reason == "malformed_archive"


def test_truncated_gzip_is_refused() -> None:
    with pytest.raises(ArchiveError):
        read_archive(raw_tar_gz({"a.rego": b"x" * 100})[:-12])


def test_trailing_garbage_is_refused() -> None:
    with pytest.raises(ArchiveError):
        read_archive(raw_tar_gz({"a.rego": b"x"}) + b"junk")


def test_gzip_of_something_other_than_tar_is_refused() -> None:
    with pytest.raises(ArchiveError):
        read_archive(gzip.compress(b"hello, not a tar" * 40))


def test_writer_is_reproducible_and_normalised() -> None:
    files = {"b.rego": b"2", "a/data.json": b"{}", ".manifest": b"{}"}
    first, second = write_archive(files), write_archive(dict(reversed(files.items())))
    assert first == second
    assert first[4:8] == b"\x00\x00\x00\x00"  # gzip mtime
    with tarfile.open(fileobj=io.BytesIO(first), mode="r:gz") as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == ["/.manifest", "/a/data.json", "/b.rego"]
    assert {(m.mtime, m.uid, m.gid, m.mode, m.uname) for m in members} == {(0, 0, 0, 0o644, "")}
