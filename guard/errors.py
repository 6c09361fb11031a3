"""The guard's own errors; the gateway translates them into its error tree.

GuardError
 +-- GuardBlocked       policy mode ``block`` found PII (400); carries entity types only
 +-- GuardUnavailable   detection failed or timed out while failing closed (503)
 +-- GuardConfigError   invalid policy or settings (custom pattern, tenant name, ...)
 +-- KeyProviderError   the pseudonym key could not be read or created
"""

from __future__ import annotations


class GuardError(Exception):
    """Base class of every error raised by the guard."""


class GuardBlocked(GuardError):
    """The payload contains PII and the policy says ``block``.

    Only the entity *types* are kept: the values must never reach a response or a log.
    """

    def __init__(self, entity_types: frozenset[str] | set[str] | tuple[str, ...]) -> None:
        self.entity_types: tuple[str, ...] = tuple(sorted(set(entity_types)))
        super().__init__("payload contains PII: " + ", ".join(self.entity_types))


class GuardUnavailable(GuardError):
    """Detection could not run (error, timeout, worker crash) and the policy fails closed."""


class GuardConfigError(GuardError):
    """A policy or setting is invalid."""


class KeyProviderError(GuardError):
    """The tenant's pseudonym key could not be obtained."""
