"""Decisions read back from the audit store, SQLite or Postgres alike.

``GET /v1/decisions/{decision_id}`` (one decision, explained), the auditors' decision
search, the explorer page and replay read through ``DecisionReader``; it owns the choice of
store so the handlers do not. Reads go to the store, not the spool: a decision is readable
once its record was shipped (within a batch of being answered).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from gateway.audit.query import query_sqlite
from gateway.db.audit_admin import Page, QueryFilter, query_postgres
from gateway.settings import AuditSettings

#: A decision id as the gateway makes them (``trail.new_id``): 12 random bytes, in hex.
DECISION_ID = re.compile(r"[0-9a-f]{24}")
_REPLAY_PAGE = 1000


class DecisionReader:
    def __init__(self, settings: AuditSettings, db_path: Path) -> None:
        self._settings = settings
        self._db_path = db_path

    async def page(self, filters: QueryFilter, limit: int) -> Page:
        """Matching events, newest first (``next_before`` pages on)."""
        settings = self._settings
        if settings.sink == "postgres":
            assert settings.postgres_dsn is not None  # settings validation guarantees it
            return await query_postgres(settings.postgres_dsn, settings.postgres_schema, filters, limit)
        return await asyncio.to_thread(query_sqlite, self._db_path, filters, limit)

    async def find(self, decision_id: str) -> dict[str, Any] | None:
        """The event of one decision; ``None`` when there is none (or the id is malformed)."""
        if not DECISION_ID.fullmatch(decision_id):
            return None
        page = await self.page(QueryFilter(decision_id=decision_id), 1)
        return page.events[0] if page.events else None

    async def replayable(self, filters: QueryFilter, limit: int) -> AsyncIterator[dict[str, Any]]:
        """Events that recorded a policy input, newest first, at most ``limit``."""
        seen = 0
        before = filters.before
        while seen < limit:
            page = await self.page(replace(filters, before=before), min(_REPLAY_PAGE, limit - seen))
            for event in page.events:
                if isinstance(event.get("policy_input"), dict):
                    seen += 1
                    yield event
            if page.next_before is None:
                return
            before = page.next_before
