"""What the guard reads in an MCP message (gateway/mcp/guarding.py)."""

from __future__ import annotations

from gateway.mcp.guarding import message_slots


def test_arguments_are_guarded_whole_and_identifiers_are_not() -> None:
    message = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {
            "name": "create_issue",
            "arguments": {
                "title": "For bob@example.com",
                "bob@example.com": ["nested alice"],
                "name": "Carol",
            },
            "_meta": {"progressToken": "tok-1", "io.modelcontextprotocol/protocolVersion": "2026-07-28"},
        },
    }
    texts = message_slots(message).texts
    assert "For bob@example.com" in texts and "bob@example.com" in texts  # a key of the arguments
    assert "nested alice" in texts and "Carol" in texts  # "name" inside arguments is the caller's data
    assert "create_issue" not in texts and "tok-1" not in texts and "2026-07-28" not in texts


def test_a_resource_uri_stays_and_a_clients_answer_is_guarded() -> None:
    read = {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "resources/read",
        "params": {"uri": "file:///home/alice/notes"},
    }
    assert message_slots(read).texts == []
    answer = {
        "jsonrpc": "2.0",
        "id": 3,
        "result": {"role": "assistant", "content": {"type": "text", "text": "Hi Bob"}},
    }
    assert message_slots(answer).texts == ["Hi Bob"]


def test_written_back_masks_land_in_the_message() -> None:
    message = {
        "jsonrpc": "2.0",
        "method": "tools/call",
        "params": {"name": "t", "arguments": {"q": "secret"}},
    }
    slots = message_slots(message)
    assert slots.texts == ["q", "secret"]  # the argument's key, then its value
    slots.write_back(["q", "<MASKED>"])
    assert message["params"]["arguments"] == {"q": "<MASKED>"}
