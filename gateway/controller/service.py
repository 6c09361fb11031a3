"""What every controller operation shares: the store, the settings, the clock, and who is who.

``Service`` is made once in the app's lifespan. It opens the store on first use (Postgres may
come up after the gateway; until it answers, the controller answers 503), finds callers in
the org chart, and resolves who approves a request.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from gateway.db.controller import ControllerStore, ControllerStoreError, Person
from gateway.domain import Principal
from gateway.errors import Unavailable
from gateway.settings import ControllerSettings
from signing.schema import RoleProfile

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Approver:
    """Who decides an approval: one person (``user_id``) or anyone holding ``role``."""

    role: str
    user_id: str | None
    why: str  # "manager" (the org chart) or "profile" (approvals.approver_role)


class Service:
    def __init__(
        self,
        store: ControllerStore,
        settings: ControllerSettings,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.settings = settings
        self.now = clock

    async def use(self, work: Callable[[ControllerStore], Awaitable[T]]) -> T:
        """Run ``work`` on the open store; an unreachable store is a 503, not a 500."""
        try:
            await self.store.open()
            return await work(self.store)
        except ControllerStoreError as exc:
            raise Unavailable(
                "the controller store is unavailable; retry shortly", reason="controller_unavailable"
            ) from exc

    async def person_of(self, principal: Principal) -> Person | None:
        """The caller's row in its tenant's org chart: by user_id = sub, else by email."""
        person = await self.use(lambda s: s.get_person(principal.tenant, principal.sub))
        if person is None and principal.email:
            email = principal.email
            person = await self.use(lambda s: s.person_by_email(principal.tenant, email))
        return person

    async def approver_for(self, requester: Person | None, profiles: list[RoleProfile]) -> Approver | None:
        """The requester's manager (org chart) first, else the approver role of its profile."""
        if requester is not None and requester.reports_to is not None:
            manager_id = requester.reports_to
            manager = await self.use(lambda s: s.get_person(requester.tenant, manager_id))
            if manager is not None:
                return Approver(role=manager.role, user_id=manager.user_id, why="manager")
        for profile in profiles:
            if profile.approvals.approver_role is not None:
                return Approver(role=profile.approvals.approver_role, user_id=None, why="profile")
        return None
