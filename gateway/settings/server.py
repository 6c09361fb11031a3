"""The ``server`` section: the listener and its limits."""

from __future__ import annotations

from pydantic import Field

from gateway.settings.base import Strict


class ServerSettings(Strict):
    """The listener. The limits below protect the process from slow or oversized clients
    (``gateway/http/server.py``, docs/runbook.md "Connection limits")."""

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    # How clients reach this gateway (https://skein.example.com), for links it hands out such as
    # dev mode's jwks_uri; never taken from a request's Host header.
    public_url: str | None = Field(None, pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$")
    max_body_bytes: int = Field(4 * 1024 * 1024, gt=0)
    access_log: bool = False
    overhead_header: bool = True
    # A request's line and headers must arrive within this time of their first bytes (slowloris).
    header_timeout_seconds: float = Field(10.0, gt=0)
    # Its body within this time of the end of its headers (slow or short bodies).
    body_timeout_seconds: float = Field(60.0, gt=0)
    # A connection with no request in progress is closed after this long (keep-alive, new ones).
    # Above the idle timeout of the load balancers in front (nginx, ingress-nginx: 60 s), so a
    # balancer never reuses a connection Skein is closing: that race is a 502 for a caller.
    idle_timeout_seconds: float = Field(75.0, gt=0)
    # A response the client stops reading is cut after its send buffer stayed full this long.
    write_timeout_seconds: float = Field(60.0, gt=0)
    max_header_bytes: int = Field(64 * 1024, ge=1024)  # request line + all header fields
    max_headers: int = Field(100, gt=0)  # header fields per request
    # Open client connections; one more is answered 503 too_many_connections + Retry-After.
    max_connections: int = Field(1000, gt=0)
    retry_after_seconds: int = Field(1, ge=0)
