"""The guard sees every string the provider reads: PII planted in each field of each dialect's
request (keys included) never reaches the provider.

The built-in echo provider answers with exactly what it received, in each dialect, so the
answer shows what would have left the building. Finance pseudonymizes e-mail addresses.
"""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest

Bearer = Callable[..., dict[str, str]]
EMAIL = "maria.gonzalez@example.com"
DATA_URL = "data:text/plain;base64," + base64.b64encode(f"write to {EMAIL}".encode()).decode()
TOOL_ARGS = '{"to": "' + EMAIL + '", "' + EMAIL + '": 1}'


def user(content: Any) -> dict[str, Any]:
    return {"role": "user", "content": content}


def openai(**extra: Any) -> dict[str, Any]:
    return {"model": "echo", "messages": [user("hello")], **extra}


def call(arguments: str, name: str = "send") -> dict[str, Any]:
    return {"id": "c1", "type": "function", "function": {"name": name, "arguments": arguments}}


def schema(key: str = "to", enum: str = "x", description: str = "d") -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {key: {"type": "string", "enum": [enum], "description": description}},
    }


OPENAI_CHAT = {
    "content": openai(messages=[user(f"mail {EMAIL}")]),
    "system": openai(messages=[{"role": "system", "content": EMAIL}, user("hi")]),
    "text part": openai(messages=[user([{"type": "text", "text": EMAIL}])]),
    "refusal part": openai(
        messages=[{"role": "assistant", "content": [{"type": "refusal", "refusal": EMAIL}]}]
    ),
    "untyped part": openai(messages=[user([{"text": EMAIL}])]),
    "input_text part": openai(messages=[user([{"type": "input_text", "text": EMAIL}])]),
    "image url": openai(
        messages=[user([{"type": "image_url", "image_url": {"url": f"https://x.example/?u={EMAIL}"}}])]
    ),
    "file name": openai(
        messages=[user([{"type": "file", "file": {"filename": f"{EMAIL}.txt", "file_data": "x"}}])]
    ),
    "file data": openai(
        messages=[user([{"type": "file", "file": {"filename": "a.txt", "file_data": DATA_URL}}])]
    ),
    "message name": openai(messages=[{"role": "user", "name": EMAIL, "content": "hi"}]),
    "tool call arguments": openai(messages=[{"role": "assistant", "tool_calls": [call(TOOL_ARGS)]}]),
    "tool call name": openai(messages=[{"role": "assistant", "tool_calls": [call("{}", name=EMAIL)]}]),
    "tool result": openai(messages=[{"role": "tool", "tool_call_id": "c1", "content": EMAIL}]),
    "legacy function_call": openai(
        messages=[{"role": "assistant", "function_call": {"name": "f", "arguments": TOOL_ARGS}}]
    ),
    "legacy functions": openai(functions=[{"name": "f", "description": EMAIL, "parameters": schema()}]),
    "tool description": openai(tools=[{"type": "function", "function": {"name": "f", "description": EMAIL}}]),
    "tool parameter key": openai(
        tools=[{"type": "function", "function": {"name": "f", "parameters": schema(key=EMAIL)}}]
    ),
    "tool parameter enum": openai(
        tools=[{"type": "function", "function": {"name": "f", "parameters": schema(enum=EMAIL)}}]
    ),
    "prediction": openai(prediction={"type": "content", "content": EMAIL}),
    "user": openai(user=EMAIL),
    "metadata value": openai(metadata={"owner": EMAIL}),
    "metadata key": openai(metadata={EMAIL: "owner"}),
    "response schema": openai(
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "r", "schema": schema(description=EMAIL)},
        }
    ),
    "stop": openai(stop=[EMAIL]),
}
ANTHROPIC = {
    "system string": {"system": EMAIL, "messages": [user("hi")]},
    "system blocks": {"system": [{"type": "text", "text": EMAIL}], "messages": [user("hi")]},
    "text block": {"messages": [user([{"type": "text", "text": EMAIL}])]},
    "tool use input": {
        "messages": [
            {
                "role": "assistant",
                "content": [
                    {"type": "tool_use", "id": "t", "name": "send", "input": {"to": EMAIL, EMAIL: 1}}
                ],
            }
        ]
    },
    "tool result": {
        "messages": [
            user([{"type": "tool_result", "tool_use_id": "t", "content": [{"type": "text", "text": EMAIL}]}])
        ]
    },
    "document text": {
        "messages": [
            user(
                [{"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": EMAIL}}]
            )
        ]
    },
    "document title": {
        "messages": [
            user(
                [
                    {
                        "type": "document",
                        "title": EMAIL,
                        "source": {"type": "text", "media_type": "text/plain", "data": "x"},
                    }
                ]
            )
        ]
    },
    "tool schema": {
        "messages": [user("hi")],
        "tools": [{"name": "send", "description": EMAIL, "input_schema": schema(key=EMAIL)}],
    },
    "metadata": {"messages": [user("hi")], "metadata": {"user_id": EMAIL}},
    "stop sequences": {"messages": [user("hi")], "stop_sequences": [EMAIL]},
}
OLLAMA = {
    "chat content": ("/api/chat", {"messages": [user(EMAIL)]}),
    "chat tool call": (
        "/api/chat",
        {
            "messages": [
                {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [{"function": {"name": "send", "arguments": {"to": EMAIL, EMAIL: 1}}}],
                }
            ]
        },
    ),
    "chat tools": (
        "/api/chat",
        {
            "messages": [user("hi")],
            "tools": [
                {
                    "type": "function",
                    "function": {"name": "f", "description": EMAIL, "parameters": schema(key=EMAIL)},
                }
            ],
        },
    ),
    "chat format schema": ("/api/chat", {"messages": [user("hi")], "format": schema(description=EMAIL)}),
    "generate prompt": ("/api/generate", {"prompt": EMAIL}),
    "generate system": ("/api/generate", {"prompt": "hi", "system": EMAIL}),
    "generate suffix": ("/api/generate", {"prompt": "hi", "suffix": EMAIL}),
    "embed input": ("/api/embed", {"input": [EMAIL]}),
}
RESPONSES = {
    "input string": {"input": EMAIL},
    "input_text": {"input": [user([{"type": "input_text", "text": EMAIL}])]},
    "function call": {
        "input": [{"type": "function_call", "call_id": "c", "name": "send", "arguments": TOOL_ARGS}]
    },
    "function output": {"input": [{"type": "function_call_output", "call_id": "c", "output": EMAIL}]},
    "instructions": {"input": "hi", "instructions": EMAIL},
    "tool schema": {
        "input": "hi",
        "tools": [{"type": "function", "name": "f", "description": EMAIL, "parameters": schema(key=EMAIL)}],
    },
    "text format": {
        "input": "hi",
        "text": {"format": {"type": "json_schema", "name": "r", "schema": schema(enum=EMAIL)}},
    },
    "metadata": {"input": "hi", "metadata": {EMAIL: EMAIL}},
}


def cases() -> list[tuple[str, str, dict[str, Any]]]:
    out = [("/v1/chat/completions", f"openai: {k}", v) for k, v in OPENAI_CHAT.items()]
    out += [
        ("/v1/messages", f"anthropic: {k}", {"model": "echo", "max_tokens": 64, **v})
        for k, v in ANTHROPIC.items()
    ]
    out += [
        (path, f"ollama: {k}", {"model": "echo", "stream": False, **v}) for k, (path, v) in OLLAMA.items()
    ]
    out += [("/v1/responses", f"responses: {k}", {"model": "echo", **v}) for k, v in RESPONSES.items()]
    out += [("/v1/embeddings", "openai: embeddings input", {"model": "echo", "input": [EMAIL]})]
    return out


def _decoded(text: str) -> str:
    """The echo with every base64 text data URL decoded, so encoded PII is visible too."""
    out = text
    for match in re.finditer(r"data:text/plain;base64,([A-Za-z0-9+/=]+)", text):
        out += " " + base64.b64decode(match.group(1)).decode()
    return out


@pytest.mark.parametrize(("path", "field", "body"), cases(), ids=[c[1] for c in cases()])
async def test_pii_in_every_field_never_reaches_the_provider(
    gateway: httpx.AsyncClient, bearer: Bearer, path: str, field: str, body: dict[str, Any]
) -> None:
    response = await gateway.post(path, json=body, headers=bearer(roles=["finance"]))
    assert response.status_code == 200, response.text
    echoed = _decoded(response.text.replace("\\n", "\n"))
    assert EMAIL not in echoed and "maria.gonzalez" not in echoed, field
    assert "EMAIL_ADDRESS_v1_" in echoed, field  # pseudonymized, not dropped


async def test_content_nested_in_lists_is_refused_not_forwarded(
    gateway: httpx.AsyncClient, bearer: Bearer
) -> None:
    body = openai(messages=[user([[{"type": "text", "text": EMAIL}]])])
    response = await gateway.post("/v1/chat/completions", json=body, headers=bearer(roles=["finance"]))
    assert response.status_code == 400 and response.json()["error"]["param"] == "messages[0].content[0]"


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/messages", "/api/chat", "/v1/responses"])
async def test_block_mode_refuses_pii_in_a_schema(
    gateway: httpx.AsyncClient, bearer: Bearer, path: str
) -> None:
    body = {
        "/v1/chat/completions": OPENAI_CHAT["legacy functions"],
        "/v1/messages": {"model": "echo", "max_tokens": 64, **ANTHROPIC["tool schema"]},
        "/api/chat": {"model": "echo", "stream": False, **OLLAMA["chat tools"][1]},
        "/v1/responses": {"model": "echo", **RESPONSES["tool schema"]},
    }[path]
    response = await gateway.post(path, json=body, headers=bearer(roles=["auditor"]))
    assert response.status_code == 400 and "pii_blocked" in response.text


async def test_pii_split_across_two_messages_is_found_at_the_junction(
    gateway: httpx.AsyncClient, bearer: Bearer
) -> None:
    body = openai(
        messages=[
            user("my ssn is 123-45-"),
            user("6789 thanks"),
            user("mail maria.gonzalez@"),
            user("example.com"),
        ]
    )
    response = await gateway.post("/v1/chat/completions", json=body, headers=bearer(roles=["finance"]))
    assert response.status_code == 200
    assert "6789" not in response.text and "example.com" not in response.text


async def test_pii_inside_a_base64_blob_is_found(gateway: httpx.AsyncClient, bearer: Bearer) -> None:
    blob = base64.b64encode(f"please write to {EMAIL} about the invoice".encode()).decode()
    body = openai(messages=[user(f"decode this: {blob}")])
    response = await gateway.post("/v1/chat/completions", json=body, headers=bearer(roles=["finance"]))
    assert response.status_code == 200
    assert blob not in response.text  # re-encoded from the masked text


async def test_one_caller_flooding_large_requests_does_not_starve_another(
    gateway: httpx.AsyncClient, bearer: Bearer
) -> None:
    big = " ".join(["Maria Gonzalez lives in Lisbon and writes reports."] * 300)
    flood_headers, calm_headers = (
        bearer(sub="mallory", roles=["finance"]),
        bearer(sub="bob", roles=["finance"]),
    )

    async def flood() -> int:
        return (
            await gateway.post(
                "/v1/chat/completions", json=openai(messages=[user(big)]), headers=flood_headers
            )
        ).status_code

    async def calm() -> int:
        await asyncio.sleep(0.05)  # the flood is in the guard first
        return (await gateway.post("/v1/chat/completions", json=openai(), headers=calm_headers)).status_code

    statuses = await asyncio.gather(*(flood() for _ in range(24)), *(calm() for _ in range(4)))
    flooded, calm_statuses = statuses[:24], statuses[24:]
    assert calm_statuses == [200] * 4  # the ordinary caller is served
    assert set(flooded) <= {200, 429} and 503 not in flooded  # the flooder is slowed, never a 503 for anyone
