"""What each MCP method is to policy: its action, the item it names, the list it returns.

Policy sees one action per message (``docs/mcp.md`` lists them):

* ``mcp.connect``: the session's own traffic (initialize, ping, notifications, ...): may the
  caller reach this server at all;
* ``tools.list`` / ``prompts.list`` / ``resources.list``: asked once per server for the
  request, then once per listed item (``resource.tool``, ``.prompt``, ``.uri``) to filter it;
* ``tools.call`` (``resource.tool`` and ``.arguments``), ``prompts.get``, ``resources.read``,
  ``completion.complete``;
* ``mcp.method`` for any other method (``resource.method`` names it): no rule permits it, so
  an unknown method is denied unless a policy author allows it on purpose.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Method:
    action: str
    names: str | None = None  # the params field naming the item: "name" (a tool, a prompt) or "uri"
    item: str | None = None  # what that item is called in the policy input's resource
    listing: str | None = None  # the result's array of items, for list methods


CONNECT = Method("mcp.connect")
UNKNOWN = Method("mcp.method")

METHODS: dict[str, Method] = {
    "initialize": CONNECT,
    "server/discover": CONNECT,  # 2026-07-28: what initialize was, without a session
    "ping": CONNECT,
    "logging/setLevel": CONNECT,
    "notifications/initialized": CONNECT,
    "notifications/cancelled": CONNECT,
    "notifications/progress": CONNECT,
    "notifications/roots/list_changed": CONNECT,
    "tools/list": Method("tools.list", item="tool", listing="tools"),
    "tools/call": Method("tools.call", names="name", item="tool"),
    "prompts/list": Method("prompts.list", item="prompt", listing="prompts"),
    "prompts/get": Method("prompts.get", names="name", item="prompt"),
    "resources/list": Method("resources.list", item="uri", listing="resources"),
    "resources/templates/list": Method("resources.list", item="uri_template", listing="resourceTemplates"),
    "resources/read": Method("resources.read", names="uri", item="uri"),
    "resources/subscribe": Method("resources.read", names="uri", item="uri"),
    "resources/unsubscribe": Method("resources.read", names="uri", item="uri"),
    "completion/complete": Method("completion.complete"),
}

#: The params field the 2026-07-28 ``Mcp-Name`` header mirrors, by method.
NAME_HEADER_FIELDS = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}


def method_of(name: str | None) -> Method:
    """The method's policy meaning; a response to a server's request counts as session traffic."""
    if name is None:
        return CONNECT
    return METHODS.get(name, UNKNOWN)


def listing_item_key(listing: str) -> str:
    """The field that names one item of a listing (``uriTemplate`` for templates)."""
    return {"resources": "uri", "resourceTemplates": "uriTemplate"}.get(listing, "name")
