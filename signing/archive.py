"""The tar.gz container: a defensive reader and a reproducible writer.

The reader never touches the filesystem and never trusts a header: it decompresses in
bounded steps (a gzip bomb stops at the cap, whatever the gzip trailer claims), accepts
regular files only (directory entries are skipped, as OPA does), and refuses odd names,
links, devices, duplicates and oversize members. Names are returned without the leading
``/`` that OPA's own writer puts on every member: a single leading slash means "the bundle
root", so ``/.manifest`` and ``.manifest`` are the same file (and both at once are a
duplicate), while ``//x``, ``C:/x`` or ``a/../b`` are refused.

The writer makes the same bytes from the same files: sorted members, fixed mtime, uid,
gid, owner names and mode, ustar format, and a gzip header with mtime 0 and no file name.
"""

from __future__ import annotations

import gzip
import io
import re
import tarfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

from signing.errors import (
    ArchiveError,
    ArchiveTooLarge,
    DecompressionLimit,
    DuplicateMember,
    LinkMember,
    MemberTooLarge,
    SpecialMember,
    UnsafePath,
)

_CHUNK = 64 * 1024
_SEGMENT = re.compile(r"^[A-Za-z0-9_.@+=,-][A-Za-z0-9_.@+=, -]*$")
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class Limits:
    """Size caps for reading an untrusted bundle (a policy bundle is kilobytes)."""

    max_compressed_bytes: int = 32 * 1024 * 1024  # the file as fetched
    max_decompressed_bytes: int = 64 * 1024 * 1024  # the tar stream out of gzip (bomb guard)
    max_total_bytes: int = 32 * 1024 * 1024  # sum of member sizes
    max_member_bytes: int = 16 * 1024 * 1024  # any one member
    max_members: int = 10_000


DEFAULT_LIMITS = Limits()  # frozen, so sharing one instance is safe


def read_archive(data: bytes, limits: Limits = DEFAULT_LIMITS) -> dict[str, bytes]:
    """Return ``{name: content}`` for every regular file, or raise an ``ArchiveError``."""
    if len(data) > limits.max_compressed_bytes:
        cap = limits.max_compressed_bytes
        raise ArchiveTooLarge(f"{len(data)} compressed bytes exceed the limit of {cap}")
    raw = gunzip_capped(data, limits.max_decompressed_bytes)
    try:
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
            return _members(tar, limits)
    except tarfile.TarError as exc:
        raise ArchiveError(f"not a valid tar archive: {exc}") from exc


def gunzip_capped(data: bytes, cap: int) -> bytes:
    """Decompress one gzip member, refusing to produce more than ``cap`` bytes."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out = bytearray()
    pending = data
    try:
        while not inflater.eof:
            # max_length bounds each step's output, so memory never exceeds cap + one chunk;
            # a call with no new input drains what zlib still holds back.
            chunk = inflater.decompress(pending, _CHUNK)
            pending = inflater.unconsumed_tail
            out += chunk
            if len(out) > cap:
                raise DecompressionLimit(f"decompressed size exceeds the limit of {cap} bytes")
            if not chunk and not pending:
                break
    except zlib.error as exc:
        raise ArchiveError(f"not a valid gzip stream: {exc}") from exc
    if not inflater.eof:
        raise ArchiveError("truncated gzip stream")
    if inflater.unused_data:
        raise ArchiveError("trailing data after the gzip stream")
    return bytes(out)


def _members(tar: tarfile.TarFile, limits: Limits) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    total = 0
    for count, member in enumerate(tar, start=1):
        if count > limits.max_members:
            raise ArchiveTooLarge(f"more than {limits.max_members} members")
        name = normalize_name(member.name)
        _check_type(member, name)
        if member.isdir():
            continue
        if name in files:
            raise DuplicateMember("appears more than once", file=name)
        if member.size > limits.max_member_bytes:
            cap = limits.max_member_bytes
            raise MemberTooLarge(f"{member.size} bytes exceed the limit of {cap}", file=name)
        total += member.size
        if total > limits.max_total_bytes:
            raise ArchiveTooLarge(f"members total more than {limits.max_total_bytes} bytes", file=name)
        files[name] = _read_member(tar, member, name)
    return files


def _check_type(member: tarfile.TarInfo, name: str) -> None:
    if member.issym() or member.islnk():
        raise LinkMember(f"links are not allowed (points to {member.linkname!r})", file=name)
    if member.issparse():
        raise SpecialMember("sparse files are not allowed", file=name)
    if not (member.isreg() or member.isdir()):
        raise SpecialMember("only regular files are allowed (device, FIFO or other)", file=name)


def _read_member(tar: tarfile.TarFile, member: tarfile.TarInfo, name: str) -> bytes:
    handle = tar.extractfile(member)
    if handle is None:
        raise SpecialMember("member has no content", file=name)
    content = handle.read(member.size + 1)
    if len(content) != member.size:
        raise ArchiveError("member size does not match its header", file=name)
    return content


def normalize_name(raw: str) -> str:
    """Map a member name to a bundle path, or raise ``UnsafePath``."""
    if "\\" in raw or "\x00" in raw:
        raise UnsafePath("backslashes and NUL are not allowed in names", file=raw)
    # OPA's writer roots every member at "/"; one leading slash is that root, more is absolute.
    name = raw[1:] if raw.startswith("/") and not raw.startswith("//") else raw
    name = name.rstrip("/")  # directory entries end with "/"
    if raw.startswith("//") or name.startswith("/") or _DRIVE.match(name):
        raise UnsafePath("absolute paths are not allowed", file=raw)
    segments = name.split("/")
    for segment in segments:
        if segment in ("", ".", ".."):
            raise UnsafePath("empty, '.' and '..' path segments are not allowed", file=raw)
        if not _SEGMENT.match(segment):
            raise UnsafePath(f"segment {segment!r} has characters outside the allowed set", file=raw)
    return name


def write_archive(files: Mapping[str, bytes]) -> bytes:
    """Pack ``{name: content}`` reproducibly; names are written with OPA's leading ``/``."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name in sorted(files):
            content = files[name]
            info = tarfile.TarInfo(name="/" + normalize_name(name))
            info.size = len(content)
            info.mode = 0o644
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(content))
    # mtime=0 and an empty file name keep the gzip header independent of time and path.
    compressed = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=compressed, mtime=0, compresslevel=9) as gz:
        gz.write(buffer.getvalue())
    return compressed.getvalue()
