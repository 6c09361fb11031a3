"""Names on the aggregated endpoint, and the values of MCP's routing headers.

On ``/mcp`` a tool or prompt of server ``github`` named ``create_issue`` is
``github__create_issue``, the naming the role profiles use. Server names cannot contain
``__`` (settings refuse it), so the first ``__`` splits a name exactly; the rest, ``__``
included, is the server's own name. Nothing is normalised: ``GitHub__create_issue`` names a
server ``GitHub``, which is not ``github``.
"""

from __future__ import annotations

import base64
import re

SEPARATOR = "__"
_HEADER_SAFE = re.compile(r"[\x20-\x7e]*")


def join(server: str, name: str) -> str:
    return f"{server}{SEPARATOR}{name}"


def split(namespaced: str) -> tuple[str, str] | None:
    """``("github", "create_issue")`` for ``github__create_issue``; None without a server."""
    server, separator, name = namespaced.partition(SEPARATOR)
    if not separator or not server or not name:
        return None
    return server, name


def header_value(value: str) -> str:
    """A routing header's value (``Mcp-Name``): as it is when it is printable ASCII without
    edge spaces, else base64 in the ``=?base64?...?=`` form the 2026-07-28 transport defines."""
    if _HEADER_SAFE.fullmatch(value) and value == value.strip() and not value.startswith("=?base64?"):
        return value
    return f"=?base64?{base64.b64encode(value.encode('utf-8')).decode('ascii')}?="
