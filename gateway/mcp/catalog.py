"""What each server really has: tool names, and which server a resource URI belongs to.

A ``tools/call`` is forwarded only for a tool the server lists under exactly that name.
Policy compares names exactly, but a server might resolve ``Shell`` or ``shell `` to its
``shell`` tool; checking against the server's own list closes that door whatever the server
does. The list is fetched by the gateway itself (with its own credential, so it is the same
for every caller), trusted for ``mcp.tools_cache_seconds``, and fetched again on a miss at
most once per ``min_refresh`` seconds, so a caller probing names cannot make Skein hammer a
server.

On ``/mcp`` resources keep their URIs, so the gateway remembers which server listed a URI
to route ``resources/read`` there.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

Fetch = Callable[[], Awaitable[list[str]]]
_MAX_URIS = 10_000


@dataclass(frozen=True, slots=True)
class _Entry:
    names: frozenset[str]
    fetched_at: float


class ToolCatalog:
    def __init__(self, ttl_seconds: float, min_refresh_seconds: float = 5.0) -> None:
        self._ttl = ttl_seconds
        self._min_refresh = min(min_refresh_seconds, ttl_seconds)
        self._entries: dict[str, _Entry] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def remember(self, server: str, tools: list[str]) -> None:
        self._entries[server] = _Entry(frozenset(tools), time.monotonic())

    async def lists(self, server: str, tool: str, fetch: Fetch) -> bool:
        """Whether ``server`` lists ``tool`` (exactly), fetching its list when needed."""
        known = self._known(server, tool)
        if known is not None:
            return known
        lock = self._locks.setdefault(server, asyncio.Lock())
        async with lock:
            known = self._known(server, tool)  # another call may have fetched meanwhile
            if known is not None:
                return known
            self.remember(server, await fetch())
        return tool in self._entries[server].names

    def _known(self, server: str, tool: str) -> bool | None:
        entry = self._entries.get(server)
        if entry is None:
            return None
        age = time.monotonic() - entry.fetched_at
        if age < self._ttl and tool in entry.names:
            return True
        if age < self._min_refresh:
            return False  # fetched a moment ago: a miss now is a miss
        return None


class ResourceIndex:
    """URI -> the server that listed it (bounded, most recent wins)."""

    def __init__(self, limit: int = _MAX_URIS) -> None:
        self._servers: OrderedDict[str, str] = OrderedDict()
        self._limit = limit

    def remember(self, server: str, uris: list[str]) -> None:
        for uri in uris:
            self._servers[uri] = server
            self._servers.move_to_end(uri)
        while len(self._servers) > self._limit:
            self._servers.popitem(last=False)

    def server_of(self, uri: str) -> str | None:
        return self._servers.get(uri)
