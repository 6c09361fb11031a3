"""Core value types shared by the pipeline stages (frozen dataclasses; pydantic only at the edges)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from gateway.errors import Reason

#: Names a caller may use instead of a catalog model; policy resolves them per role.
MODEL_ALIASES = frozenset({"default", "lead", "worker"})

AuthMethod = Literal["jwt", "api_key", "dev"]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling. ``claims`` holds the verified token claims (empty for API keys)."""

    sub: str
    roles: tuple[str, ...]
    tenant: str = "default"
    email: str | None = None
    method: AuthMethod = "jwt"
    claims: Mapping[str, Any] = field(default_factory=dict)
    expires_at: float | None = None

    def policy_view(self) -> dict[str, Any]:
        return {"sub": self.sub, "roles": list(self.roles), "tenant": self.tenant}


@dataclass(frozen=True, slots=True)
class GuardSpec:
    """What the policy asks the privacy guard to do for this call."""

    mode: str = "off"  # off | detect | mask | pseudonymize | block
    entities: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Decision:
    """The policy's answer for one call (``data.gateway.decision``)."""

    allow: bool
    reasons: tuple[Reason, ...] = ()
    model: str | None = None  # the model to serve; differs from the requested one on downshift
    guard: GuardSpec = GuardSpec()
    approval_required: bool = False
    models: tuple[str, ...] = ()  # for action "models.list": the models the caller may use
    decision_id: str = ""

    @property
    def first_reason(self) -> str:
        return self.reasons[0].code if self.reasons else ("allowed" if self.allow else "policy_denied")


@dataclass(frozen=True, slots=True)
class CallView:
    """The dialect-neutral view of a request that the stages work on.

    Adapters build it from a request body; stages never look at the raw dialect.
    """

    action: str  # chat | embeddings | responses | models.list | ...
    model: str | None = None
    stream: bool = False
    max_tokens: int | None = None  # the largest output limit the provider may honour
    input_tokens_estimate: int = 0
    tools: tuple[str, ...] = ()  # names of the tools the caller offers the model
    choices: int = 1  # answers asked for (OpenAI's n): the output budget is per answer


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """One entry of the model catalog."""

    name: str
    provider: str
    input_per_1k: float = 0.0
    output_per_1k: float = 0.0
    upstream_name: str | None = None  # the provider's own name for it, if different

    def cost(self, tokens_in: int, tokens_out: int) -> float:
        return (tokens_in * self.input_per_1k + tokens_out * self.output_per_1k) / 1000.0


@dataclass(frozen=True, slots=True)
class Usage:
    tokens_in: int = 0
    tokens_out: int = 0
