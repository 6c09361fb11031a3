"""Signed bundle sources: an OPA bundle ``.tar.gz`` from a file or from an HTTP(S) URL.

Both only fetch bytes and hand them to ``Trust.content`` (verify, then unpack); neither
ever returns content that failed a check. Change detection keeps polling cheap:

* ``FileSource`` compares the file's (inode, mtime, size) with the last one it read, so a
  poll costs one ``stat``. ``skein bundle sign`` replaces the file atomically, so a read
  never sees half a bundle.
* ``UrlSource`` sends ``If-None-Match`` with the last ETag; ``304`` means unchanged. The
  ETag is remembered even for a bundle that was refused, so a bad bundle is reported once,
  not on every poll; SIGHUP (``force``) fetches unconditionally.

A detached Sigstore bundle, when Sigstore is configured, is read from the same place plus
``.sigstore.json``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from gateway.bundle.source import BundleContent, SourceError
from gateway.bundle.trust import SIGSTORE_SUFFIX, Trust

FileStamp = tuple[tuple[int, int, int] | None, ...]


class FileSource:
    def __init__(self, path: Path, trust: Trust) -> None:
        self.path = path
        self.origin = f"file:{path}"
        self._trust = trust
        self._sidecar = path.with_name(path.name + SIGSTORE_SUFFIX) if trust.wants_sigstore_bundle else None
        self._seen: FileStamp | None = None

    async def fetch(self, *, force: bool) -> BundleContent | None:
        return await asyncio.to_thread(self._fetch, force)

    def _fetch(self, force: bool) -> BundleContent | None:
        stamp = (_stat(self.path), _stat(self._sidecar) if self._sidecar else None)
        if stamp[0] is None:
            raise SourceError(f"{self.path}: bundle file not found")
        if not force and stamp == self._seen:
            return None
        data = _read(self.path)
        sigstore = _read(self._sidecar) if self._sidecar and stamp[1] else None
        self._seen = stamp  # before verifying: a refused file is reported once, not every poll
        return self._trust.content(data, sigstore, self.origin)


class UrlSource:
    def __init__(self, url: str, trust: Trust, http: httpx.AsyncClient, *, timeout: float) -> None:
        self.url = url
        self.origin = url
        self._trust = trust
        self._http = http
        self._timeout = timeout
        self._etag: str | None = None

    async def fetch(self, *, force: bool) -> BundleContent | None:
        headers = {"If-None-Match": self._etag} if self._etag and not force else {}
        status, etag, data = await self._get(self.url, headers)
        if status == 304:
            return None
        if status != 200:
            raise SourceError(f"{self.url}: HTTP {status}")
        sigstore = None
        if self._trust.wants_sigstore_bundle:
            sidecar_status, _, sidecar = await self._get(self.url + SIGSTORE_SUFFIX, {})
            sigstore = sidecar if sidecar_status == 200 else None
        self._etag = etag
        # Verification hashes and inflates the whole archive: keep it off the event loop.
        return await asyncio.to_thread(self._trust.content, data, sigstore, self.origin)

    async def _get(self, url: str, headers: dict[str, str]) -> tuple[int, str | None, bytes]:
        """Status, ETag and body, reading at most what a bundle may be."""
        limit = self._trust.options.limits.max_compressed_bytes
        body = bytearray()
        try:
            async with self._http.stream(
                "GET", url, headers=headers, timeout=self._timeout, follow_redirects=True
            ) as response:
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > limit:
                        raise SourceError(f"{url}: larger than {limit} bytes")
        except httpx.HTTPError as exc:
            raise SourceError(f"{url}: {type(exc).__name__}: {exc}") from exc
        return response.status_code, response.headers.get("etag"), bytes(body)


def _stat(path: Path) -> tuple[int, int, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return (info.st_ino, info.st_mtime_ns, info.st_size)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SourceError(f"{path}: cannot read: {exc.strerror}") from exc
