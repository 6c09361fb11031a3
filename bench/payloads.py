"""Request bodies the load generators send: one realistic chat request for every target.

Every target gets the same body, so `skein` (guard off) and `skein-guard` differ only in
the caller's role and the difference between their rows is exactly what the guard costs.
The user prompt is 200 words and carries a few personal details (a name, an e-mail
address, a phone number, a card number) so that a guard in pseudonymize mode has real
work to do; `GUARD_PROBE` is the value the guard check looks for upstream.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

MODEL = "gpt-4o-mini"
GUARD_PROBE = "maria.keller@example.org"
# A stream whose prompt contains this marker is paced by the fake upstream (ms between
# events); proxies forward message text untouched, so pacing needs no custom header.
PACE_MARKER = "bench-pace-{ms}ms"

SYSTEM = (
    "You are a helpful assistant for a software company. Answer concisely and accurately. "
    "If you do not know the answer, say so and never invent configuration options."
)

USER = (
    "Please draft a short reply to a customer ticket. The customer, Maria Keller, wrote to us "
    f"from {GUARD_PROBE} and asked why her monthly invoice was charged twice "
    "to the card ending 4111 1111 1111 1111. She also left a phone number, +1 415 555 0142, "
    "and asked to be called back before Friday because she travels next week. "
    "Our billing system shows one successful charge and one authorisation that was released "
    "after three days, so no money was taken twice. Explain this in plain words, "
    "apologise for the confusion, and tell her that the pending line will disappear from her "
    "statement without any action on her side. Mention that our support team can send a "
    "written confirmation if her bank asks for one. Keep the tone friendly, "
    "avoid jargon such as authorisation hold or settlement, and do not promise a refund, "
    "because there is nothing to refund. Close with a sentence that invites her to reply "
    "if the line is still visible after five full working days, and sign the reply "
    "as billing support. The reply should fit in one paragraph of about eighty "
    "words, and it must not repeat her card number or her phone number in the text."
)


def chat_body(stream: bool, pace_ms: int = 0) -> dict[str, Any]:
    user = USER if pace_ms <= 0 else f"{USER} ({PACE_MARKER.format(ms=pace_ms)})"
    body: dict[str, Any] = {
        "model": MODEL,
        "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}],
        "max_tokens": 256,
        "temperature": 0.2,
    }
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


def mcp_body() -> dict[str, Any]:
    """One MCP tools/call carrying the same 200-word prompt as its argument."""
    params = {"name": "echo", "arguments": {"text": USER}}
    return {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}


def encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def write_bodies(directory: Path, pace_ms: int) -> dict[str, Path]:
    """Write the bodies wrk and the SSE client read; returns name -> file."""
    directory.mkdir(parents=True, exist_ok=True)
    bodies = {
        "nonstream": chat_body(stream=False),
        "stream": chat_body(stream=True),
        "stream_paced": chat_body(stream=True, pace_ms=pace_ms),
        "mcp": mcp_body(),
    }
    files = {}
    for name, body in bodies.items():
        path = directory / f"body_{name}.json"
        path.write_bytes(encode(body))
        files[name] = path
    return files


def word_count() -> int:
    return len(USER.split())
