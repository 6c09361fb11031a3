"""The guard's own errors; the gateway translates them into its error tree.

GuardError
 +-- GuardBlocked       policy mode ``block`` found PII (400); carries entity types only
 +-- GuardBusy          the caller is over its share, or the guard is saturated (429 +
 |                      Retry-After); says nothing about the text, so never fails open
 +-- GuardTooLarge      the call has more text than ``GuardSettings.max_chars`` (413)
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


class GuardBusy(GuardError):
    """Not now: the caller has ``per_caller`` calls in the guard already
    (``caller_limit``), or the guard holds as many calls as it may queue, or a batch waited
    longer than ``queue_timeout_s`` for a worker. ``retry_after`` is a whole number of
    seconds, estimated from the current queue (for the ``Retry-After`` header)."""

    def __init__(self, retry_after: int, *, caller_limit: bool) -> None:
        self.retry_after = retry_after
        self.caller_limit = caller_limit
        what = "this caller has too many requests in the guard" if caller_limit else "the guard is busy"
        super().__init__(f"{what}; retry after {retry_after} s")


class GuardTooLarge(GuardError):
    """The call's texts add up to more than ``limit`` characters (``size``)."""

    def __init__(self, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(f"{size} characters of text to check; the limit is {limit}")


class GuardUnavailable(GuardError):
    """Detection could not run (error, timeout, worker crash) and the policy fails closed."""


class GuardConfigError(GuardError):
    """A policy or setting is invalid."""


class KeyProviderError(GuardError):
    """The tenant's pseudonym key could not be obtained."""
