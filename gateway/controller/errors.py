"""The controller's one addition to the error tree (gateway/errors.py): 409 conflicts.

A conflict names the state that made the request impossible (``details.current``), so a
client can tell "someone else finished this task" from a bad request and decide what to do.
"""

from __future__ import annotations

from gateway.errors import GatewayError


class Conflict(GatewayError):
    """409: the record is not in a state that allows this (``invalid_transition``,
    ``already_decided``, ``approval_expired``, ``no_approver``...)."""

    status = 409
    error_type = "conflict"
    default_reason = "conflict"

    def __init__(self, message: str, *, reason: str, current: str | None = None) -> None:
        details = {"current": current} if current is not None else {}
        super().__init__(message, reason=reason, details=details)
