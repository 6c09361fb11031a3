"""MCP sessions that any replica can serve: the session id *is* the session, sealed.

An upstream server gives each session an ``Mcp-Session-Id``. Skein never hands that id to
the caller: it seals the upstream sessions (one per server; several on ``/mcp``), the
caller's identity and the endpoint into its own session id with AES-GCM. Nothing is stored,
so any replica with the same key serves any session, and:

* a session id is bound to its caller (``sub`` and ``tenant``) and to its endpoint: anyone
  else, or another endpoint, gets ``404``, exactly as for an unknown session, so a leaked id
  is worth nothing to another principal;
* it cannot be forged or edited (AES-GCM authenticates it), and it expires after
  ``mcp.session_ttl_seconds``;
* ending a session (``DELETE``) ends the upstream sessions; the sealed id then only points
  at sessions the servers no longer know, which they answer with ``404``.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections import OrderedDict
from dataclasses import dataclass, field

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_PREFIX = "s1."
_AAD = b"skein-mcp-session-v1"
_NONCE_BYTES = 12
_MAX_TOKEN_CHARS = 8192
#: The endpoint of the aggregated route (server names cannot contain "*").
AGGREGATED = "*"


@dataclass(frozen=True, slots=True)
class UpstreamSession:
    """One server's side of a session: its own session id and the protocol version agreed."""

    session_id: str | None
    protocol_version: str | None


@dataclass(frozen=True, slots=True)
class McpSession:
    sub: str
    tenant: str
    endpoint: str  # a server name, or AGGREGATED
    upstreams: dict[str, UpstreamSession] = field(default_factory=dict)
    issued_at: float = 0.0

    def belongs_to(self, sub: str, tenant: str, endpoint: str) -> bool:
        return (self.sub, self.tenant, self.endpoint) == (sub, tenant, endpoint)


class SessionSealer:
    """Seals and opens session ids with one key (from settings, or random per process)."""

    def __init__(self, secret: str | None, ttl_seconds: float, cache_size: int = 1024) -> None:
        key = hashlib.sha256(secret.encode()).digest() if secret else os.urandom(32)
        self._aead = AESGCM(key)
        self._ttl = ttl_seconds
        # Opened ids, so a session's every request does not decrypt it again (bounded).
        self._opened: OrderedDict[str, McpSession] = OrderedDict()
        self._cache_size = cache_size

    def seal(self, session: McpSession) -> str:
        document = {
            "sub": session.sub,
            "tenant": session.tenant,
            "endpoint": session.endpoint,
            "iat": session.issued_at,
            "up": {name: [u.session_id, u.protocol_version] for name, u in session.upstreams.items()},
        }
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, orjson.dumps(document), _AAD)
        return _PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")

    def open(self, token: str, now: float) -> McpSession | None:
        """The session, or None when the id is not one of ours, was altered, or expired."""
        session = self._opened.get(token)
        if session is None:
            session = self._unseal(token)
            if session is None:
                return None
            self._opened[token] = session
            if len(self._opened) > self._cache_size:
                self._opened.popitem(last=False)
        return session if now - session.issued_at <= self._ttl else None

    def _unseal(self, token: str) -> McpSession | None:
        if not token.startswith(_PREFIX) or len(token) > _MAX_TOKEN_CHARS:
            return None
        payload = token[len(_PREFIX) :]
        try:
            blob = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
            document = orjson.loads(self._aead.decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], _AAD))
            session = McpSession(
                sub=document["sub"],
                tenant=document["tenant"],
                endpoint=document["endpoint"],
                upstreams={name: UpstreamSession(*pair) for name, pair in document["up"].items()},
                issued_at=float(document["iat"]),
            )
        except (ValueError, InvalidTag, KeyError, TypeError):
            return None
        return session
