"""Masking string values inside JSON held in a string keeps the JSON valid."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from guard import Guard, GuardPolicy, JsonStrings, Mode, restore

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(json_values)
def test_rebuild_with_arbitrary_replacements(tree: object) -> None:
    doc = JsonStrings.parse(json.dumps(tree))
    assert doc is not None
    replaced = tuple(f'<X "{i}"\\>' for i in range(len(doc.parts)))
    rebuilt = json.loads(doc.rebuild(replaced))
    assert JsonStrings.parse(json.dumps(rebuilt)) is not None
    assert json.loads(doc.rebuild(doc.parts)) == tree


def test_not_json_returns_none() -> None:
    assert JsonStrings.parse('{"a": ') is None


async def test_tool_arguments_masked_and_restored(guard: Guard) -> None:
    arguments = '{"to": "john@acme.com", "body": "Hi John Smith, your SSN 123-45-6789", "n": 3, "cc": ["x"]}'
    doc = JsonStrings.parse(arguments)
    assert doc is not None
    result = await guard.protect(doc.parts, GuardPolicy(mode=Mode.PSEUDONYMIZE), "acme")
    masked = doc.rebuild(result.parts)
    parsed = json.loads(masked)
    assert "john@acme.com" not in masked and "123-45-6789" not in masked
    assert parsed["n"] == 3 and parsed["cc"] == ["x"]
    assert json.loads(restore(masked, result.mapping)) == json.loads(arguments)


async def test_protect_json_helper(guard: Guard) -> None:
    masked, result = await guard.protect_json(
        '{"q": "mail ann@acme.com"}', GuardPolicy(mode=Mode.MASK), "acme"
    )
    assert json.loads(masked) == {"q": "mail <EMAIL_ADDRESS>"} and result.counts == {"EMAIL_ADDRESS": 1}
    text, _ = await guard.protect_json("not json ann@acme.com", GuardPolicy(mode=Mode.MASK), "acme")
    assert text == "not json <EMAIL_ADDRESS>"
