"""One request on its way through the pipeline: what each stage needs and what it leaves.

Stages read and write a ``Call``; nothing else carries per-request state. Its ``trail``
is the record (who, what, the decision, timings) that becomes the audit event and the
metrics; the rest is working state (the parsed body, the route, a budget reservation...)
that is dropped when the request ends.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway.bundle.store import ActiveBundle
from gateway.dialects.base import Dialect
from gateway.domain import CallView, Decision, Principal
from gateway.errors import GatewayError
from gateway.state.budgets import Reservation
from gateway.state.idempotency import Claim, StoredResponse
from gateway.telemetry import CallTrace
from gateway.trail import Trail
from gateway.upstream.base import Upstream, UpstreamResponse
from signing.schema import Catalog, CatalogModel


@dataclass(frozen=True, slots=True)
class Route:
    """Where a decided call goes: the served model, its catalog entry and the upstream."""

    model: str
    info: CatalogModel
    upstream: Upstream
    alternatives: tuple[Upstream, ...] = ()  # the model's other deployments, for retries

    @property
    def upstream_model(self) -> str:
        return self.info.upstream_name or self.model


@dataclass(frozen=True, slots=True)
class Answer:
    """A buffered answer as sent to the caller (kept for idempotent replay)."""

    status: int
    headers: dict[str, str]
    body: bytes


@dataclass(slots=True)
class Call:
    dialect: Dialect
    headers: Mapping[str, str]  # the caller's request headers (lower-case names)
    trail: Trail
    params: Mapping[str, str] = field(default_factory=dict)  # query parameters (control routes)
    read_body: Callable[[int], Awaitable[bytes]] = field(default=lambda limit: _no_body())
    raw: bytes = b""
    body: dict[str, Any] = field(default_factory=dict)
    bundle: ActiveBundle | None = None
    route: Route | None = None
    placed: str | None = None  # the deployment this call counts as in flight on (balancer)
    policy_input: dict[str, Any] | None = None  # what decide asked policy (fallbacks ask again)
    reservation: Reservation | None = None
    claim: Claim | None = None
    replay: StoredResponse | None = None  # set by the idempotency stage: answer with this
    mapping: Mapping[str, str] = field(default_factory=dict)  # pseudonym -> value, this call only
    asked_stream_usage: bool = False  # the gateway asked for stream usage on the caller's behalf
    upstream: UpstreamResponse | None = None
    answer: Answer | None = None
    entered: int = 0  # how many stages ran their way in (their way out runs in reverse)
    listing: Callable[[list[str], Catalog, float], dict[str, Any]] | None = None  # model lists
    streaming: bool = False  # the answer is a stream, which finishes the call when it ends
    finished: bool = False
    trace: CallTrace | None = None  # the call's spans, when tracing is on

    @property
    def principal(self) -> Principal:
        assert self.trail.principal is not None, "authenticate runs first"
        return self.trail.principal

    @property
    def view(self) -> CallView:
        assert self.trail.view is not None, "the body is read before any stage needs the view"
        return self.trail.view

    @property
    def decision(self) -> Decision:
        assert self.trail.decision is not None, "decide runs before any stage needs the decision"
        return self.trail.decision

    def fail(self, error: GatewayError) -> None:
        self.trail.fail(error)


async def _no_body() -> bytes:
    return b""
