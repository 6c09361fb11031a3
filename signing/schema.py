"""The bundle's data contract: role profiles and the model catalog.

Policy authors write these as YAML under ``bundles/``; the bundle builder validates them
strictly (an unknown key is an error naming the file and the key) and packs them as
``profiles/data.json`` and ``models/data.json`` so Rego sees them as ``data.profiles`` and
``data.models``. The gateway reads the same validated objects. This module lives in
``signing`` because the builder needs it and ``signing`` must not import ``gateway``.
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

GuardMode = Literal["off", "detect", "mask", "pseudonymize", "block"]
#: What a call is for (the ``x-skein-task`` header): a closed vocabulary, so no free string
#: from a caller ever reaches policy or a metric label.
Task = Literal["summarize", "classify", "extract", "translate", "chat", "code", "plan"]
TASKS: frozenset[str] = frozenset(get_args(Task))
_M = TypeVar("_M", bound=BaseModel)
_GLOB_CHARS = re.compile(r"^[A-Za-z0-9_.:/*?\[\]!-]+$")
_GLOB_CLASS = re.compile(r"\[!?[^\[\]]+\]")  # a complete, non-empty [...] character class


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_glob(pattern: str) -> str:
    # Brackets are only valid as whole character classes: "gpt-[" or "a]b[" are typos.
    outside_classes = _GLOB_CLASS.sub("", pattern)
    if not pattern or not _GLOB_CHARS.match(pattern) or "[" in outside_classes or "]" in outside_classes:
        raise ValueError(f"bad glob pattern {pattern!r}")
    return pattern


class Downshift(_Strict):
    """Serve a cheaper model once a share of the daily budget is spent."""

    budget_used_pct: float = Field(gt=0, le=100)
    from_model: str = Field(alias="from")
    to_model: str = Field(alias="to")


class ModelRules(_Strict):
    allowed: tuple[str, ...] = Field(min_length=1)  # globs over catalog names
    default: str | None = None
    lead: str | None = None
    worker: str | None = None
    max_tokens: int | None = Field(None, gt=0)
    downshift: tuple[Downshift, ...] = ()
    worker_tasks: tuple[Task, ...] = ()  # tasks served by the worker model (when it is cheaper)

    @field_validator("allowed")
    @classmethod
    def _globs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_check_glob(p) for p in value)

    def allows(self, model: str) -> bool:
        return any(fnmatch.fnmatchcase(model, pattern) for pattern in self.allowed)

    @model_validator(mode="after")
    def _named_models_allowed(self) -> ModelRules:
        for field in ("default", "lead", "worker"):
            model = getattr(self, field)
            if model is not None and not self.allows(model):
                raise ValueError(f"models.{field} {model!r} is not in models.allowed")
        if self.worker_tasks and self.worker is None:
            raise ValueError("models.worker_tasks needs models.worker (the model those tasks go to)")
        return self


class ProviderRules(_Strict):
    allowed: tuple[str, ...] = ()  # empty: any provider not forbidden
    forbidden: tuple[str, ...] = ()


class Extension(_Strict):
    name: str
    enabled: bool = True
    tools: tuple[str, ...] = ()  # empty: every tool the tool globs allow

    @field_validator("tools")
    @classmethod
    def _globs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_check_glob(p) for p in value)


class ToolRules(_Strict):
    """``server__tool`` globs; deny wins over allow."""

    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()

    @field_validator("allow", "deny")
    @classmethod
    def _globs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_check_glob(p) for p in value)


class CustomPattern(_Strict):
    entity: str = Field(pattern=r"^[A-Z][A-Z0-9_]*$")
    regex: str
    score: float = Field(0.85, gt=0, le=1)

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"regex does not compile: {exc}") from exc
        return value


class Privacy(_Strict):
    mode: GuardMode = "mask"
    entities: tuple[str, ...] = ()  # empty: every entity the guard knows
    local_only: bool = False  # only providers marked local may serve this role
    fail_open: bool = False
    second_opinion: bool = False  # also ask the gateway's Ollama model, if one is configured
    decode_base64: bool = False  # also look inside base64 blobs in text (docs/guard.md)
    patterns: tuple[CustomPattern, ...] = ()
    allow_terms: tuple[str, ...] = ()


class Budgets(_Strict):
    daily_usd: float | None = Field(None, ge=0)
    monthly_usd: float | None = Field(None, ge=0)
    daily_tokens: int | None = Field(None, ge=0)


class RateLimits(_Strict):
    requests_per_minute: int | None = Field(None, gt=0)
    tokens_per_minute: int | None = Field(None, gt=0)


class Approvals(_Strict):
    tools: tuple[str, ...] = ()  # tool globs that need a human approval
    approver_role: str | None = None

    @field_validator("tools")
    @classmethod
    def _globs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_check_glob(p) for p in value)


class RoleProfile(_Strict):
    role: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    display_name: str
    description: str = ""
    models: ModelRules
    providers: ProviderRules = ProviderRules()
    extensions: tuple[Extension, ...] = ()
    tools: ToolRules = ToolRules()
    privacy: Privacy = Privacy()
    # Explicit Nones: without the pydantic mypy plugin, Field(None, ...) defaults look required.
    budgets: Budgets = Budgets(daily_usd=None, monthly_usd=None, daily_tokens=None)
    rate_limits: RateLimits = RateLimits(requests_per_minute=None, tokens_per_minute=None)
    approvals: Approvals = Approvals()
    goosehints: str = ""  # context for the role's agents (goose's .goosehints), served by /profiles/me


class CatalogModel(_Strict):
    provider: str
    input_per_1k: float = Field(0.0, ge=0)
    output_per_1k: float = Field(0.0, ge=0)
    upstream_name: str | None = None
    kind: Literal["chat", "embeddings"] = "chat"
    context_window: int | None = Field(None, gt=0)


class ProviderInfo(_Strict):
    local: bool = False  # runs inside the organisation (counts for privacy.local_only)


class Catalog(_Strict):
    providers: dict[str, ProviderInfo]
    models: dict[str, CatalogModel]

    @model_validator(mode="after")
    def _known_providers(self) -> Catalog:
        for name, model in self.models.items():
            if model.provider not in self.providers:
                raise ValueError(f"models.{name}.provider: unknown provider {model.provider!r}")
        return self


class SchemaError(ValueError):
    """A profile or catalog file is invalid; the message names the file and the field."""


def load_catalog(path: Path) -> Catalog:
    return _validate(Catalog, _read(path), path)


def load_profile(path: Path, catalog: Catalog) -> RoleProfile:
    profile = _validate(RoleProfile, _read(path), path)
    _check_against_catalog(profile, catalog, path)
    return profile


def load_profiles(directory: Path, catalog: Catalog) -> dict[str, RoleProfile]:
    profiles: dict[str, RoleProfile] = {}
    for path in sorted(directory.glob("*.yaml")):
        profile = load_profile(path, catalog)
        if profile.role in profiles:
            raise SchemaError(f"{path}: role {profile.role!r} is defined twice")
        if path.stem != profile.role:
            raise SchemaError(f"{path}: role {profile.role!r} must live in {profile.role}.yaml")
        profiles[profile.role] = profile
    if not profiles:
        raise SchemaError(f"{directory}: no role profiles (*.yaml) found")
    _check_approver_roles(profiles, directory)
    return profiles


def _check_approver_roles(profiles: dict[str, RoleProfile], directory: Path) -> None:
    for role, profile in profiles.items():
        approver = profile.approvals.approver_role
        if approver is not None and approver not in profiles:
            path = directory / f"{role}.yaml"
            raise SchemaError(f"{path}: approvals.approver_role: unknown role {approver!r}")


def _check_against_catalog(profile: RoleProfile, catalog: Catalog, path: Path) -> None:
    for field in ("default", "lead", "worker"):
        model = getattr(profile.models, field)
        if model is not None and model not in catalog.models:
            raise SchemaError(f"{path}: models.{field}: {model!r} is not in the model catalog")
    for pattern in profile.models.allowed:
        # A glob that matches nothing is almost always a typo that silently denies a model.
        if not any(fnmatch.fnmatchcase(name, pattern) for name in catalog.models):
            raise SchemaError(f"{path}: models.allowed: {pattern!r} matches no model in the catalog")
    for rule in profile.models.downshift:
        for model in (rule.from_model, rule.to_model):
            if model not in catalog.models:
                raise SchemaError(f"{path}: models.downshift: {model!r} is not in the model catalog")
            if not profile.models.allows(model):
                raise SchemaError(f"{path}: models.downshift: {model!r} is not in models.allowed")
    for field in ("allowed", "forbidden"):
        for provider in getattr(profile.providers, field):
            if provider not in catalog.providers:
                raise SchemaError(f"{path}: providers.{field}: unknown provider {provider!r}")


def _read(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SchemaError(f"{path}: cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise SchemaError(f"{path}: not valid YAML: {exc}") from exc


def _validate(kind: type[_M], data: Any, path: Path) -> _M:
    try:
        return kind.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "(top level)"
            what = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
            problems.append(f"{path}: {where}: {what}")
        raise SchemaError("\n".join(problems)) from exc
