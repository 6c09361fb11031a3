"""The MCP gateway: agents reach MCP servers through Skein, over Streamable HTTP.

Two entry points (docs/mcp.md):

* ``/mcp/{server}``: one upstream server, proxied message by message;
* ``/mcp``: every server the caller may use, aggregated; tools and prompts are named
  ``{server}__{name}``.

This package holds the protocol pieces; the pipeline stages that use them live in
``gateway/stages/mcp_*.py`` and the routes in ``gateway/http/mcp.py``:

* ``jsonrpc``: parsing and validating JSON-RPC messages and batches, errors as JSON-RPC;
* ``methods``: what each MCP method is to policy (its action and the item it names);
* ``names``: ``{server}__{tool}`` names and the routing headers' values;
* ``session``: session ids that carry the upstream sessions, sealed and bound to the caller;
* ``upstream``: the client for one upstream server (POST, GET stream, DELETE);
* ``aggregate``: one session and one listing over several servers;
* ``catalog``: the names each server really has, so a call names a tool exactly;
* ``guarding``: which parts of a message the privacy guard reads;
* ``call``: the per-message state the stages share.
"""
