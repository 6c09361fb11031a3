"""The caller's role profiles, from the active bundle.

Before policy, as defense in depth: a caller none of whose roles has a profile is refused
here even if a policy bug would let it through. The bundle taken here serves the whole call,
so a bundle swap never mixes one bundle's profiles with another's policy.
"""

from __future__ import annotations

from gateway.bundle.store import BundleStore
from gateway.call import Call
from gateway.errors import Forbidden, Reason
from gateway.stages.base import Stage


class Profile(Stage):
    name = "profile"

    def __init__(self, bundles: BundleStore) -> None:
        self._bundles = bundles

    async def enter(self, call: Call) -> None:
        bundle = self._bundles.current()
        call.bundle = bundle
        call.trail.bundle_revision, call.trail.bundle_digest = bundle.revision, bundle.digest
        roles = call.principal.roles
        if not any(role in bundle.profiles for role in roles):
            message = f"none of the roles {list(roles)} has a profile in bundle {bundle.revision}"
            raise Forbidden(message, reason="unknown_role", reasons=[Reason("unknown_role", message)])
