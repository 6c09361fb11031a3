"""The one error tree of the gateway.

Every failure a caller can see is a ``GatewayError`` with three stable parts:

* ``status``: the HTTP status code,
* ``reason``: a short machine code (``token_expired``, ``model_not_allowed``...). It is the
  ``code`` field of the error body, the ``reason`` label of the metrics and the reason
  recorded in audit, so it never changes once published,
* ``message``: a sentence for a human.

Hierarchy::

    GatewayError
    ├── BadRequest            400  malformed_json, missing_model, invalid_request, malformed_http,
    │   │                          invalid_task, ...
    │   ├── UnsupportedMedia  415  unsupported_content_type
    │   ├── PayloadTooLarge   413  body_too_large
    │   ├── RequestTimeout    408  header_timeout, body_timeout (the client was too slow)
    │   └── HeadersTooLarge   431  headers_too_large, too_many_headers
    ├── Unauthenticated       401  missing_credentials, invalid_token, token_expired, ...
    ├── Forbidden             403  policy_denied (with the policy's reasons), ...
    ├── NotFound              404  not_found
    ├── IdempotencyInFlight   409  idempotency_in_flight
    ├── IdempotencyKeyReused  422  idempotency_key_reused
    │   (MethodNotAllowed     405  method_not_allowed, under BadRequest)
    ├── RateLimited           429  rate_limited, budget_exceeded (with Retry-After)
    ├── UpstreamError         502  upstream_unreachable, upstream_reset, upstream_protocol,
    │   │                          upstream_response_too_large, upstream_event_too_large
    │   └── UpstreamTimeout   504  upstream_timeout
    └── Unavailable           503  no_bundle, policy_engine_error, guard_unavailable,
                                   too_many_connections (with Retry-After),
                                   upstream_circuit_open (with Retry-After), ...

The connection-level codes (``malformed_http``, ``header_timeout``, ``body_timeout``,
``headers_too_large``, ``too_many_headers``, ``too_many_connections``) are answered by the
HTTP server itself (``gateway.http.server``) before any route runs, so they reach neither
audit nor the per-route metrics.

``gateway.http.errors`` is the one place that renders these in the caller's dialect.
Lower layers translate their own exceptions at the boundary (``raise Unavailable(...) from exc``)
so that nothing else escapes to the client.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True, slots=True)
class Reason:
    """One reason a decision was taken; ``code`` is stable, ``message`` is for people."""

    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


class GatewayError(Exception):
    status: ClassVar[int] = 500
    error_type: ClassVar[str] = "server_error"
    default_reason: ClassVar[str] = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        reasons: Sequence[Reason] = (),
        headers: Mapping[str, str] | None = None,
        details: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason or self.default_reason
        self.reasons: tuple[Reason, ...] = tuple(reasons)
        self.headers: dict[str, str] = dict(headers or {})
        self.details: dict[str, object] = dict(details or {})

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.status}, {self.reason!r}, {self.message!r})"

    def fields(self) -> dict[str, object]:
        """The parts every dialect's error body carries: message, type, the stable code, the
        offending field (``param``, as OpenAI names it), and the policy's reasons."""
        body: dict[str, object] = {
            "message": self.message,
            "type": self.error_type,
            "code": self.reason,
            "param": self.details.get("field"),
            "reasons": [r.as_dict() for r in self.reasons] or [Reason(self.reason, self.message).as_dict()],
        }
        if self.details:
            body["details"] = self.details
        return body


class BadRequest(GatewayError):
    status = 400
    error_type = "invalid_request_error"
    default_reason = "invalid_request"


class UnsupportedMedia(BadRequest):
    status = 415
    default_reason = "unsupported_content_type"


class PayloadTooLarge(BadRequest):
    status = 413
    default_reason = "body_too_large"


class RequestTimeout(BadRequest):
    """The client did not send its request (headers or body) in time."""

    status = 408
    default_reason = "request_timeout"


class HeadersTooLarge(BadRequest):
    """The request line and headers are too large, or there are too many header fields."""

    status = 431
    default_reason = "headers_too_large"


class Unauthenticated(GatewayError):
    status = 401
    error_type = "authentication_error"
    default_reason = "invalid_token"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        # RFC 6750: tell the client which scheme and what went wrong.
        code = "invalid_request" if reason == "missing_credentials" else "invalid_token"
        challenge = f'Bearer realm="skein", error="{code}", error_description="{message}"'
        super().__init__(message, reason=reason, headers={"www-authenticate": challenge})


class Forbidden(GatewayError):
    status = 403
    error_type = "permission_error"
    default_reason = "policy_denied"


class NotFound(GatewayError):
    status = 404
    error_type = "not_found_error"
    default_reason = "not_found"


class IdempotencyInFlight(GatewayError):
    """The same Idempotency-Key is being served right now; retry later for its answer."""

    status = 409
    error_type = "conflict"
    default_reason = "idempotency_in_flight"


class IdempotencyKeyReused(GatewayError):
    """The Idempotency-Key was used before with a different request body."""

    status = 422
    error_type = "invalid_request_error"
    default_reason = "idempotency_key_reused"


class MethodNotAllowed(BadRequest):
    status = 405
    default_reason = "method_not_allowed"


class RateLimited(GatewayError):
    status = 429
    error_type = "rate_limit_error"
    default_reason = "rate_limited"


class UpstreamError(GatewayError):
    status = 502
    error_type = "upstream_error"
    default_reason = "upstream_unreachable"


class UpstreamTimeout(UpstreamError):
    status = 504
    default_reason = "upstream_timeout"


class Unavailable(GatewayError):
    status = 503
    error_type = "service_unavailable"
    default_reason = "unavailable"


class ClientDisconnected(GatewayError):
    """Not sent to anyone (the client is gone); recorded in audit and metrics as status 499."""

    status = 499
    error_type = "client_closed_request"
    default_reason = "client_disconnected"


def is_refusal(error: GatewayError | None) -> bool:
    """Refused by someone (authentication, policy, a budget, a rate limit), not failed: audited
    as ``allow: false`` and counted as a denial, whichever layer refused."""
    return isinstance(error, Unauthenticated | Forbidden | RateLimited)
