"""The protocol pieces on their own: JSON-RPC parsing and errors, names, sealed sessions."""

from __future__ import annotations

import pytest

from gateway.errors import BadRequest, Forbidden, Unavailable, UpstreamError
from gateway.mcp import jsonrpc, names
from gateway.mcp.jsonrpc import Invalid, Message, parse_body
from gateway.mcp.session import McpSession, SessionSealer, UpstreamSession
from gateway.settings import McpSettings


def test_a_single_message_is_parsed_by_kind() -> None:
    (request,), batch = parse_body(b'{"jsonrpc":"2.0","id":"a","method":"tools/list","params":{}}', 8)
    assert not batch and isinstance(request, Message) and (request.kind, request.id) == ("request", "a")
    (note,), _ = parse_body(b'{"jsonrpc":"2.0","method":"notifications/initialized"}', 8)
    assert isinstance(note, Message) and note.kind == "notification" and note.id is None
    (answer,), _ = parse_body(b'{"jsonrpc":"2.0","id":3,"result":{}}', 8)
    assert isinstance(answer, Message) and answer.kind == "response"


@pytest.mark.parametrize(
    "raw",
    [
        b"[",  # not JSON
        b"[]",  # an empty batch
        b'"ping"',  # not an object
        b'{"jsonrpc":"1.0","id":1,"method":"ping"}',
        b'{"jsonrpc":"2.0","id":true,"method":"ping"}',  # ids are strings or integers
        b'{"jsonrpc":"2.0","id":1,"method":"a b"}',  # a method is a name
        b'{"jsonrpc":"2.0","id":1,"method":"ping","params":[1]}',  # MCP params are objects
        b'{"jsonrpc":"2.0","id":1,"result":{},"error":{}}',  # one of result / error
        b'{"jsonrpc":"2.0","result":{}}',  # a response needs its id
    ],
)
def test_a_malformed_message_is_a_400(raw: bytes) -> None:
    with pytest.raises(BadRequest):
        parse_body(raw, 8)


def test_a_batch_answers_bad_elements_and_keeps_the_rest() -> None:
    items, batch = parse_body(b'[{"jsonrpc":"2.0","id":1,"method":"ping"}, 5, {"jsonrpc":"2.0","id":7}]', 8)
    assert batch and isinstance(items[0], Message)
    assert isinstance(items[1], Invalid) and isinstance(items[2], Invalid) and items[2].id == 7
    with pytest.raises(BadRequest, match="at most 2"):
        parse_body(b"[{}, {}, {}]", 2)


def test_deep_nesting_is_refused_before_any_walker_sees_it() -> None:
    deep = b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":' + b'{"a":' * 100 + b"1" + b"}" * 101
    with pytest.raises(BadRequest, match="nested too deeply"):
        parse_body(deep, 8)


def test_errors_carry_their_reason_and_a_json_rpc_code() -> None:
    denied = jsonrpc.error(1, Forbidden("no", reason="tool_denied"))
    assert denied["error"]["code"] == jsonrpc.DENIED
    assert denied["error"]["data"]["reason"] == "tool_denied" and denied["error"]["data"]["status"] == 403
    assert jsonrpc.code_for(Forbidden("wait", reason="approval_required")) == jsonrpc.APPROVAL
    assert jsonrpc.code_for(BadRequest("x", reason="mcp_parse_error")) == jsonrpc.PARSE_ERROR
    assert jsonrpc.code_for(BadRequest("x", details={"field": "params.name"})) == jsonrpc.INVALID_PARAMS
    assert jsonrpc.code_for(UpstreamError("x")) == jsonrpc.code_for(Unavailable("y")) == jsonrpc.UNAVAILABLE


def test_names_split_at_the_first_separator_only() -> None:
    assert names.split("github__create_issue") == ("github", "create_issue")
    assert names.split("agent_mesh__send_task") == ("agent_mesh", "send_task")
    assert names.split("a__b__c") == ("a", "b__c")
    assert names.split("shell") is None and names.split("__shell") is None and names.split("x__") is None
    assert names.header_value("notes://readme") == "notes://readme"
    assert names.header_value("café").startswith("=?base64?")


def test_server_names_cannot_hold_the_separator() -> None:
    with pytest.raises(ValueError, match="server name"):
        McpSettings.model_validate({"servers": {"my__server": {"url": "http://x"}}})
    with pytest.raises(ValueError):
        McpSettings.model_validate({"servers": {"ok": {"url": "ftp://x"}}})


def test_a_sealed_session_opens_only_unaltered_and_unexpired() -> None:
    sealer = SessionSealer("a shared secret of enough length", ttl_seconds=60)
    session = McpSession("alice", "acme", "github", {"github": UpstreamSession("up-1", "2025-11-25")}, 1000.0)
    token = sealer.seal(session)
    assert "up-1" not in token and token.startswith("s1.")
    assert sealer.open(token, 1030.0) == session
    assert sealer.open(token, 1061.0) is None  # expired
    assert sealer.open(token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB"), 1030.0) is None
    assert SessionSealer("another secret", 60).open(token, 1030.0) is None  # another deployment's key
    assert SessionSealer("a shared secret of enough length", 60).open(token, 1030.0) == session  # a replica
    assert sealer.open("not-a-session", 1030.0) is None
    assert session.belongs_to("alice", "acme", "github") and not session.belongs_to("bob", "acme", "github")
