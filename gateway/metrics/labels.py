"""Label bounding: every raw label value maps onto a bounded set, so ``/metrics`` stays small
whatever callers send (the rules are in the package docstring, ``gateway.metrics``)."""

from __future__ import annotations

from collections.abc import Iterable

OTHER = "other"
NONE = "none"
STATUS_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")


class LabelBound:
    """Maps one label's raw values onto a bounded set.

    With a known set (models, roles) only its members pass. Without one, the first ``cap``
    distinct values pass: enough for stable codes, a ceiling against a runaway source.
    """

    __slots__ = ("_cap", "_known", "_seen")

    def __init__(self, cap: int, known: Iterable[str] | None = None) -> None:
        self._cap = cap
        self._known: frozenset[str] | None = None if known is None else frozenset(known)
        self._seen: set[str] = set()

    def set_known(self, values: Iterable[str]) -> None:
        self._known = frozenset(values)

    def __call__(self, value: str | None) -> str:
        if not value:
            return NONE
        if self._known is not None:
            return value if value in self._known else OTHER
        if value in self._seen:
            return value
        if len(self._seen) < self._cap:
            self._seen.add(value)
            return value
        return OTHER


class RoleSetBound(LabelBound):
    """Maps a caller's roles (joined with ``+``) onto the sorted set of the known ones, then
    caps the distinct sets like a free-form label. No known role left: ``other``."""

    __slots__ = ()

    def __call__(self, value: str | None) -> str:
        if not value:
            return NONE
        roles = sorted(set(value.split("+")))
        if self._known is not None:
            roles = [role for role in roles if role in self._known]
            if not roles:
                return OTHER
        joined = "+".join(roles)
        if joined in self._seen or (self._known is not None and joined in self._known):
            return joined
        if len(self._seen) < self._cap:
            self._seen.add(joined)
            return joined
        return OTHER


def role_key(roles: Iterable[str] | None) -> str | None:
    """The raw ``role`` label value of a caller's roles (``RoleSetBound`` bounds it)."""
    return "+".join(sorted(set(roles))) if roles else None


def status_class(status: int) -> str:
    """``2xx`` for 200..299...; a status not set yet (0) is a success."""
    return f"{status // 100}xx" if 100 <= status < 600 else "2xx"
