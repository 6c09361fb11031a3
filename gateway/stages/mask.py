"""The privacy guard on everything the provider will read.

After admission (a refused call costs no PII analysis), before forwarding: nothing leaves
the building unmasked. The decision's guard spec and the caller's profiles make the guard
policy; the dialect's slots are every string of the body (keys included); a guard that
cannot run fails the call closed (503), unless every one of the caller's profiles says
``fail_open``. In pseudonymize mode the call keeps the pseudonym map, so answers, streams
and tool calls get the caller's values back; the map is never logged or audited.
"""

from __future__ import annotations

from collections.abc import Callable

from gateway.bundle.store import ActiveBundle
from gateway.call import Call
from gateway.dialects.slots import TextSlots
from gateway.domain import GuardSpec, Principal
from gateway.errors import BadRequest, PayloadTooLarge, RateLimited, Unavailable
from gateway.stages.base import Stage
from guard import (
    CustomPattern,
    Guard,
    GuardBlocked,
    GuardBusy,
    GuardConfigError,
    GuardError,
    GuardPolicy,
    GuardResult,
    GuardTooLarge,
)
from signing.schema import RoleProfile

_POLICY_CACHE_LIMIT = 1024


def _dialect_slots(call: Call) -> TextSlots:
    return call.dialect.slots(call.body)


class Mask(Stage):
    name = "mask"

    def __init__(self, guard: Guard | None, slots: Callable[[Call], TextSlots] = _dialect_slots) -> None:
        """``slots``: where the texts of a call are (MCP messages are not a model dialect)."""
        self._guard = guard
        self._slots = slots
        self._policies: dict[tuple[object, ...], GuardPolicy] = {}

    async def enter(self, call: Call) -> None:
        assert call.bundle is not None
        policy = self.policy(call.bundle, call.principal, call.decision.guard)
        if policy is None:
            return
        slots = self._slots(call)
        if not slots.texts:
            return
        result = await self._protect(slots.texts, policy, call.principal)
        if result is None:
            return
        call.trail.guard_entities = dict(result.counts)
        if result.degraded:
            call.trail.notes.append("guard_failed_open")
        if result.parts != tuple(slots.texts) or slots.rewrites:
            slots.write_back(result.parts)
        call.mapping = result.mapping

    def policy(self, bundle: ActiveBundle, principal: Principal, spec: GuardSpec) -> GuardPolicy | None:
        """The guard policy for this call, or None when the decision says ``off``."""
        if spec.mode == "off":
            return None
        key = (bundle.revision, principal.roles, spec.mode, spec.entities)
        policy = self._policies.get(key)
        if policy is None:
            profiles = [bundle.profiles[r] for r in principal.roles if r in bundle.profiles]
            policy = policy_from(spec, profiles)
            if len(self._policies) >= _POLICY_CACHE_LIMIT:
                self._policies.clear()
            self._policies[key] = policy
        return policy

    async def _protect(
        self, texts: list[str], policy: GuardPolicy, principal: Principal
    ) -> GuardResult | None:
        """All of one call's texts in one guard call, in reading order (PII split across two
        parts is found at their junction); ``caller`` gives each principal its fair share."""
        if self._guard is None:
            if policy.fail_open:
                return None
            raise Unavailable("the privacy guard is disabled on this gateway", reason="guard_unavailable")
        try:
            caller = f"{principal.tenant}/{principal.sub}"
            return await self._guard.protect(texts, policy, principal.tenant, caller=caller)
        except GuardBusy as exc:
            who = "you have too many requests" if exc.caller_limit else "the privacy guard is busy"
            raise RateLimited(
                f"{who} in the privacy guard; retry in {exc.retry_after} s",
                reason="guard_busy",
                headers={"retry-after": str(exc.retry_after)},
            ) from exc
        except GuardTooLarge as exc:
            raise PayloadTooLarge(
                f"the request has {exc.size} characters of text; the guard checks at most {exc.limit}",
                reason="guard_text_too_large",
            ) from exc
        except GuardBlocked as exc:
            raise BadRequest(
                f"the request contains data this role may not send: {', '.join(exc.entity_types)}",
                reason="pii_blocked",
                details={"entities": list(exc.entity_types)},
            ) from exc
        except GuardConfigError as exc:
            raise Unavailable(f"guard misconfigured: {exc}", reason="guard_misconfigured") from exc
        except GuardError as exc:
            raise Unavailable(
                "the privacy guard could not check this request", reason="guard_unavailable"
            ) from exc


def policy_from(spec: GuardSpec, profiles: list[RoleProfile]) -> GuardPolicy:
    """Several roles: every pattern applies, a term is allowed only if every role allows it,
    the guard fails open only if every role says so, and asks for a second opinion if any
    role does (more detection is the stricter choice)."""
    patterns = {
        (p.entity, p.regex): CustomPattern(p.entity, p.regex, p.score)
        for prof in profiles
        for p in prof.privacy.patterns
    }
    terms = [set(prof.privacy.allow_terms) for prof in profiles]
    allowed = sorted(set.intersection(*terms)) if terms else []
    entities = spec.entities or tuple(e for prof in profiles for e in prof.privacy.entities)
    return GuardPolicy.build(
        spec.mode,
        entities=set(entities) if entities else None,
        patterns=list(patterns.values()),
        allow_list=allowed,
        fail_open=bool(profiles) and all(prof.privacy.fail_open for prof in profiles),
        second_opinion=any(prof.privacy.second_opinion for prof in profiles),
        decode_base64=any(prof.privacy.decode_base64 for prof in profiles),
    )
