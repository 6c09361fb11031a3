"""The controller: tasks, approvals, sessions, profiles, the org chart and notifications.

Every operation is a pipeline of stages (``operations.py`` says which), reachable through the
HTTP API (``gateway/http/controller.py``) and, for the four agent verbs, through the agent
mesh MCP server (``mesh.py``): both doors run the same pipelines, so policy, idempotency and
audit are the same whichever door a caller uses.
"""
