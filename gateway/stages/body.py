"""Read the body and let the call's dialect describe it.

After authentication (an unknown caller's body is never read) and before anything that
decides: the dialect validates every field the gateway relies on (400 naming the field) and
turns the body into the neutral view the other stages use.
"""

from __future__ import annotations

from gateway.call import Call
from gateway.dialects.fields import parse_object
from gateway.errors import BadRequest, PayloadTooLarge, UnsupportedMedia
from gateway.stages.base import Stage


class ReadBody(Stage):
    name = "read"

    def __init__(self, max_bytes: int) -> None:
        self._max_bytes = max_bytes

    async def enter(self, call: Call) -> None:
        check_content_type(call.headers.get("content-type"))
        declared = call.headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                raise BadRequest("invalid Content-Length", reason="invalid_request")
            if int(declared) > self._max_bytes:
                raise PayloadTooLarge(
                    f"request body of {declared} bytes exceeds the limit of {self._max_bytes} bytes"
                )
        call.raw = await call.read_body(self._max_bytes)
        call.body = parse_object(call.raw)
        call.trail.view = call.dialect.read(call.body, len(call.raw))


def check_content_type(value: str | None) -> None:
    """JSON, exactly: ``application/json`` or an ``application/...+json`` type, with parameters.

    Matched on the whole media type, not a prefix (``application/json-evil`` is not JSON).
    A missing header is taken as JSON: curl and several SDKs omit it.
    """
    if value is None:
        return
    media = value.split(";", 1)[0].strip().lower()
    if media == "application/json" or (media.startswith("application/") and media.endswith("+json")):
        return
    raise UnsupportedMedia(f"expected Content-Type application/json, got {media[:64]!r}")
