"""The OpenAI dialect: request bodies to the neutral ``CallView`` and back, usage from answers.

The fast path forwards the caller's bytes untouched; the body is re-serialised only when
something changed (a downshifted model, the provider's own model name, masked text, the
usage request added to a stream).
"""

from __future__ import annotations

from typing import Any

import orjson

from gateway.domain import CallView, Usage
from gateway.errors import BadRequest

_BYTES_PER_TOKEN = 4  # rough estimate used before the provider reports real usage


def parse_json(raw: bytes) -> dict[str, Any]:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"request body is not valid JSON: {exc}", reason="malformed_json") from exc
    if not isinstance(body, dict):
        raise BadRequest("request body must be a JSON object", reason="malformed_json")
    return body


def chat_view(body: dict[str, Any], raw_size: int) -> CallView:
    model = _model(body)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("'messages' must be a non-empty array", reason="invalid_request")
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens <= 0):
        raise BadRequest("'max_tokens' must be a positive integer", reason="invalid_request")
    tools = tuple(
        str(t.get("function", {}).get("name", "")) for t in body.get("tools") or () if isinstance(t, dict)
    )
    return CallView(
        action="chat",
        model=model,
        stream=body.get("stream") is True,
        max_tokens=max_tokens,
        input_tokens_estimate=raw_size // _BYTES_PER_TOKEN,
        tools=tools,
    )


def embeddings_view(body: dict[str, Any], raw_size: int) -> CallView:
    model = _model(body)
    if body.get("input") in (None, "", []):
        raise BadRequest("'input' is required", reason="invalid_request")
    return CallView(action="embeddings", model=model, input_tokens_estimate=raw_size // _BYTES_PER_TOKEN)


def _model(body: dict[str, Any]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise BadRequest("'model' is required", reason="missing_model")
    return model


def upstream_body(
    body: dict[str, Any], raw: bytes, *, model: str, want_stream_usage: bool, changed: bool = False
) -> tuple[bytes, bool]:
    """The bytes to send upstream, and whether we added the stream usage request ourselves.

    ``changed``: the body was modified in place (masked text), so ``raw`` is stale.
    """
    inject = want_stream_usage and not _client_wants_stream_usage(body)
    if body.get("model") == model and not inject and not changed:
        return raw, False
    out = dict(body, model=model)
    if inject:
        out["stream_options"] = {**(body.get("stream_options") or {}), "include_usage": True}
    return orjson.dumps(out), inject


def _client_wants_stream_usage(body: dict[str, Any]) -> bool:
    options = body.get("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True


def usage_from_body(raw: bytes) -> Usage | None:
    try:
        usage = orjson.loads(raw).get("usage")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return _usage(usage)


def usage_from_event(data: bytes) -> Usage | None:
    """Usage from one SSE ``data:`` payload, if it carries any."""
    try:
        payload = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    return _usage(payload.get("usage")) if isinstance(payload, dict) else None


def is_usage_only_event(data: bytes) -> bool:
    """The extra chunk that ``include_usage`` adds: no choices, just usage."""
    try:
        payload = orjson.loads(data)
    except orjson.JSONDecodeError:
        return False
    return isinstance(payload, dict) and payload.get("choices") == [] and "usage" in payload


def _usage(usage: Any) -> Usage | None:
    if not isinstance(usage, dict):
        return None
    tokens_in = usage.get("prompt_tokens") or usage.get("input_tokens") or 0
    tokens_out = usage.get("completion_tokens") or usage.get("output_tokens") or 0
    if not isinstance(tokens_in, int) or not isinstance(tokens_out, int):
        return None
    return Usage(tokens_in, tokens_out)
