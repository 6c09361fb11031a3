"""The ``mcp`` and ``controller`` sections: the MCP gateway's upstream servers and sessions, and
the controller API with its agent mesh (an MCP server of Skein's own)."""

from __future__ import annotations

import re

from pydantic import Field, field_validator, model_validator

from gateway.settings.base import Strict

# A server name; "__" inside one is refused apart from this pattern (McpSettings._names).
_MCP_SERVER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


class McpServerSettings(Strict):
    """One upstream MCP server, reached over Streamable HTTP (docs/mcp.md).

    The caller's own credentials never go upstream: Skein presents its own, the value of the
    environment variable ``auth_env`` in the header ``auth_header`` (for example
    ``Authorization: Bearer ...``)."""

    url: str = Field(pattern=r"^https?://")
    auth_header: str = Field("authorization", pattern=r"^[A-Za-z0-9-]+$")
    auth_env: str | None = None
    connect_timeout_seconds: float = Field(5.0, gt=0)
    read_timeout_seconds: float = Field(300.0, gt=0)  # between bytes: tools may work for minutes
    # What goose installs for this extension when it runs locally instead of behind Skein
    # (``uvx mcp-github``): listed in GET /goose/allowlist.yaml for the roles that may use it.
    goose_command: str | None = None
    # Send the caller's own credentials instead of Skein's: only for a server inside Skein's
    # trust boundary that acts for the caller (the controller's agent mesh).
    forward_credentials: bool = False

    @model_validator(mode="after")
    def _one_credential(self) -> McpServerSettings:
        if self.forward_credentials and self.auth_env:
            raise ValueError("auth_env and forward_credentials exclude each other")
        return self


class McpSettings(Strict):
    """The MCP gateway: upstream servers by name, reached at ``/mcp/{name}`` and, all of them
    together, at ``/mcp`` with tools named ``{name}__{tool}``."""

    servers: dict[str, McpServerSettings] = {}
    # Session ids are sealed with a key from this variable (32+ bytes, shared by replicas so
    # any of them can serve a session); unset: a random key per process.
    session_key_env: str | None = None
    session_ttl_seconds: int = Field(24 * 3600, gt=0)
    max_batch: int = Field(32, gt=0)  # JSON-RPC messages in one POST
    tools_cache_seconds: float = Field(60.0, gt=0)  # how long a server's tool list is trusted
    public_url: str | None = Field(None, pattern=r"^https?://")  # in the goose allowlist

    @field_validator("servers")
    @classmethod
    def _names(cls, value: dict[str, McpServerSettings]) -> dict[str, McpServerSettings]:
        for name in value:
            # "__" separates server and tool in /mcp's tool names, so it cannot be in a server name.
            if not _MCP_SERVER_NAME.fullmatch(name) or "__" in name:
                raise ValueError(f"server name {name!r}: letters, digits, '-' and single '_' only")
        return value


class ControllerSettings(Strict):
    """The controller API and the agent mesh (docs/controller.md)."""

    approval_ttl_seconds: int = Field(72 * 3600, gt=0)  # a pending approval expires then
    session_ttl_seconds: int = Field(8 * 3600, gt=0)  # a session's lifetime unless it asks
    max_session_ttl_seconds: int = Field(7 * 24 * 3600, gt=0)
    sweep_interval_seconds: float = Field(30.0, gt=0)  # how often expiry is applied
    mesh: bool = True  # host the agent mesh MCP server (/internal/mcp/agent_mesh)
