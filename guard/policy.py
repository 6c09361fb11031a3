"""What a role profile asks of the guard: mode, entities, thresholds, patterns, allow-list."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from guard.errors import GuardConfigError


class Mode(StrEnum):
    OFF = "off"
    DETECT = "detect"
    MASK = "mask"
    PSEUDONYMIZE = "pseudonymize"
    BLOCK = "block"


#: Entities detected when a policy does not list its own. ORGANIZATION is opt-in: company
#: and product names are rarely personal data and the small model over-labels them.
DEFAULT_ENTITIES: frozenset[str] = frozenset(
    {
        "PERSON",
        "LOCATION",
        "EMAIL_ADDRESS",
        "PHONE_NUMBER",
        "CREDIT_CARD",
        "US_SSN",
        "IBAN_CODE",
        "IP_ADDRESS",
    }
)
ALL_BUILTIN_ENTITIES: frozenset[str] = DEFAULT_ENTITIES | {"ORGANIZATION"}

#: Minimum score per entity; checksum-validated patterns score 1.0, NER spans 0.85, weak
#: gazetteer or context-only hits lower (see guard/recognizers).
DEFAULT_THRESHOLDS: Mapping[str, float] = MappingProxyType(
    {
        "PERSON": 0.5,
        "LOCATION": 0.5,
        "ORGANIZATION": 0.6,
        "EMAIL_ADDRESS": 0.5,
        "PHONE_NUMBER": 0.5,
        "CREDIT_CARD": 0.5,
        "US_SSN": 0.5,
        "IBAN_CODE": 0.5,
        "IP_ADDRESS": 0.5,
    }
)

# Entity names end up inside pseudonym tokens, so they must fit the token grammar.
_ENTITY_NAME = re.compile(r"[A-Z][A-Z0-9_]{0,40}[A-Z0-9]")


@dataclass(frozen=True, slots=True)
class CustomPattern:
    """A profile-defined regex recognizer, e.g. ``EMPLOYEE_ID`` / ``EMP-\\d{5}`` / 0.9."""

    entity: str
    regex: str
    score: float = 0.8

    def __post_init__(self) -> None:
        if not _ENTITY_NAME.fullmatch(self.entity):
            raise GuardConfigError(f"custom entity name must match {_ENTITY_NAME.pattern}")
        if not 0.0 < self.score <= 1.0:
            raise GuardConfigError("custom pattern score must be in (0, 1]")
        try:
            re.compile(self.regex)
        except re.error as exc:
            raise GuardConfigError(f"invalid regex for {self.entity}: {exc}") from exc


@dataclass(frozen=True, slots=True)
class GuardPolicy:
    """The guard part of a role profile. Hashable so detectors can cache per policy."""

    mode: Mode = Mode.MASK
    entities: frozenset[str] = DEFAULT_ENTITIES
    thresholds: tuple[tuple[str, float], ...] = ()
    patterns: tuple[CustomPattern, ...] = ()
    allow_list: tuple[str, ...] = ()
    fail_open: bool = False
    second_opinion: bool = False
    timeout_s: float | None = None
    decode_base64: bool = False  # also guard text hidden in base64 runs (guard.encoded)

    def threshold(self, entity: str) -> float:
        for name, value in self.thresholds:
            if name == entity:
                return value
        return DEFAULT_THRESHOLDS.get(entity, 0.5)

    def wanted(self) -> frozenset[str]:
        """Entities to look for: the listed built-ins plus every custom pattern's entity."""
        return self.entities | {p.entity for p in self.patterns}

    @classmethod
    def build(
        cls,
        mode: Mode | str = Mode.MASK,
        *,
        entities: frozenset[str] | set[str] | list[str] | None = None,
        thresholds: Mapping[str, float] | None = None,
        patterns: list[CustomPattern] | tuple[CustomPattern, ...] = (),
        allow_list: list[str] | tuple[str, ...] = (),
        fail_open: bool = False,
        second_opinion: bool = False,
        timeout_s: float | None = None,
        decode_base64: bool = False,
    ) -> GuardPolicy:
        """Convenience constructor from the loose shapes a profile loader has at hand."""
        return cls(
            mode=Mode(mode),
            entities=frozenset(entities) if entities is not None else DEFAULT_ENTITIES,
            thresholds=tuple(sorted((thresholds or {}).items())),
            patterns=tuple(patterns),
            allow_list=tuple(allow_list),
            fail_open=fail_open,
            second_opinion=second_opinion,
            timeout_s=timeout_s,
            decode_base64=decode_base64,
        )


@dataclass(frozen=True, slots=True)
class Detection:
    """One detected entity in one text part (offsets, never the value)."""

    entity: str
    start: int
    end: int
    score: float


@dataclass(frozen=True, slots=True)
class GuardResult:
    """Outcome of :meth:`guard.Guard.protect`.

    ``mapping`` (token -> original value) exists only for pseudonymize; it lives for the
    call, is needed to restore the response, and must never be logged or audited.
    """

    mode: Mode
    parts: tuple[str, ...]
    counts: Mapping[str, int]
    mapping: Mapping[str, str] = field(default_factory=dict)
    degraded: bool = False  # True when detection failed and the policy failed open

    @property
    def total(self) -> int:
        return sum(self.counts.values())
