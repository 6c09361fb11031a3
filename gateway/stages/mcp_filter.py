"""A listing shows only what the caller may use: each item is decided by policy.

After forwarding, for ``tools/list``, ``prompts/list``, ``resources/list`` and
``resources/templates/list``: every item is asked about on its own (action of the listing,
``resource.tool`` / ``.prompt`` / ``.uri``), so a caller never sees a tool it may not call;
the decision cache makes a repeated listing cheap. An item whose name is not a valid
identifier cannot be decided or called, so it is hidden too. On ``/mcp`` tool and prompt
names get their ``server__`` prefix. The full tool lists seen here refresh the catalog that
``tools/call`` checks names against.
"""

from __future__ import annotations

from typing import Any

from gateway.call import Call
from gateway.dialects.fields import IDENTIFIER
from gateway.mcp import jsonrpc, names
from gateway.mcp.call import mcp_call
from gateway.mcp.catalog import ResourceIndex, ToolCatalog
from gateway.mcp.methods import listing_item_key
from gateway.mcp.session import AGGREGATED
from gateway.metrics import Metrics
from gateway.stages.base import Stage
from gateway.stages.mcp_decide import decide


class FilterListing(Stage):
    name = "filter"

    def __init__(self, catalog: ToolCatalog, resources: ResourceIndex, metrics: Metrics) -> None:
        self._catalog = catalog
        self._resources = resources
        self._metrics = metrics

    async def enter(self, call: Call) -> None:
        mcp = mcp_call(call)
        items, target, message = mcp.items, mcp.target, mcp.message
        if items is None:
            return
        assert target is not None and message is not None and target.method.item is not None
        aggregated = mcp.endpoint == AGGREGATED
        key = listing_item_key(items.key)
        visible: list[dict[str, Any]] = []
        by_server: dict[str, list[str]] = {}
        hidden: dict[str, int] = {}
        for server, item in items.found:
            name = item.get(key)
            named = isinstance(name, str) and (key != "name" or IDENTIFIER.fullmatch(name) is not None)
            if named:
                assert isinstance(name, str)
                by_server.setdefault(server, []).append(name)
                resource = {"server": server, "method": message.method, target.method.item: name}
                if (await decide(call, target.method.action, resource)).allow:
                    visible.append(
                        {**item, "name": names.join(server, name)} if aggregated and key == "name" else item
                    )
                    continue
            hidden[server] = hidden.get(server, 0) + 1
        self._remember(items.key, by_server, complete=aggregated or "nextCursor" not in items.result)
        call.trail.resource.update({"listed": len(visible), "hidden": sum(hidden.values())})
        if items.key == "tools":
            for server, count in hidden.items():
                self._metrics.count_tools_hidden(server, count)
        result = {**items.result, items.key: visible}
        if "cacheScope" in result:
            result["cacheScope"] = "private"  # filtered for this caller: no shared cache may keep it
        mcp.reply = jsonrpc.result(message.id, result)

    def _remember(self, key: str, by_server: dict[str, list[str]], *, complete: bool) -> None:
        for server, found in by_server.items():
            if key == "tools" and complete:
                self._catalog.remember(server, found)
            elif key == "resources":
                self._resources.remember(server, found)
