"""Turn a LiteLLM proxy config's ``model_list`` into Skein's ``providers`` and model catalog.

A LiteLLM entry names the model clients ask for (``model_name``) and how to reach it
(``litellm_params``: ``model: "<provider>/<name>"``, ``api_base``, ``api_key:
"os.environ/VAR"``, prices). Skein splits that in two: *where* a provider is and which
variable holds its key go into the gateway config (``providers``), *which* models exist and
what they cost go into the bundle's catalog (``bundles/models.yaml``), where policy sees them.

Several entries with one ``model_name`` (LiteLLM load-balances them) become deployments of
one catalog model (``routing.deployments``, docs/routing.md): each further entry a provider
entry of its own with ``catalog_provider`` naming the first one's provider, its ``weight``
kept. The router's retries, fallbacks and cooldowns (``num_retries``, ``fallbacks``,
``allowed_fails``, ``cooldown_time``, ``routing_strategy`` in ``router_settings`` or
``litellm_settings``) become ``routing`` settings.

Everything that has no Skein equivalent is listed, never dropped silently: literal API keys
(a secret does not belong in a config file), providers Skein has no dialect for (Azure,
Bedrock, Vertex), a further deployment on another provider than the first one's (policy
judges one provider per model), and the rest of the proxy-wide sections
(``general_settings``, ...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

ENV_KEY = re.compile(r"^os\.environ/([A-Za-z_][A-Za-z0-9_]*)$")

# Providers Skein speaks natively: prefix -> (dialect, default base URL). Both also serve the
# OpenAI API under /v1, which LiteLLM's clients use: `openai_path: /v1` keeps them reachable.
NATIVE: dict[str, tuple[str, str]] = {
    "anthropic": ("anthropic", "https://api.anthropic.com"),
    "ollama": ("ollama", "http://127.0.0.1:11434"),
    "ollama_chat": ("ollama", "http://127.0.0.1:11434"),
}
# LiteLLM provider prefix -> the OpenAI-compatible base URL Skein forwards to (None: api_base
# is required). Providers that serve the OpenAI chat API.
OPENAI_COMPATIBLE: dict[str, str | None] = {
    "openai": "https://api.openai.com/v1",
    "text-completion-openai": "https://api.openai.com/v1",
    "groq": "https://api.groq.com/openai/v1",
    "mistral": "https://api.mistral.ai/v1",
    "deepseek": "https://api.deepseek.com/v1",
    "openrouter": "https://openrouter.ai/api/v1",
    "together_ai": "https://api.together.xyz/v1",
    "fireworks_ai": "https://api.fireworks.ai/inference/v1",
    "xai": "https://api.x.ai/v1",
    "perplexity": "https://api.perplexity.ai",
    "gemini": "https://generativelanguage.googleapis.com/v1beta/openai",
    "hosted_vllm": None,
    "vllm": None,
    "lm_studio": None,
    "openai_like": None,
}
# Without an api_key LiteLLM reads <PROVIDER>_API_KEY, except for these self-hosted servers.
NO_KEY = frozenset({"ollama", "ollama_chat", "hosted_vllm", "vllm", "lm_studio", "openai_like"})
PROVIDER_NAMES = {"ollama_chat": "ollama", "text-completion-openai": "openai", "hosted_vllm": "vllm"}
PROXY_SECTIONS = ("litellm_settings", "general_settings", "router_settings", "environment_variables")
# litellm_params keys that are read below; any other one is reported as not mapped.
READ_PARAMS = frozenset(
    {"model", "api_base", "api_key", "input_cost_per_token", "output_cost_per_token", "weight"}
)
# Router settings Skein maps onto ``routing`` (from router_settings or litellm_settings).
ROUTER_KEYS = frozenset({"num_retries", "fallbacks", "allowed_fails", "cooldown_time", "routing_strategy"})
STRATEGIES = {"simple-shuffle": "weighted", "least-busy": "least_in_flight"}


@dataclass
class Imported:
    providers: dict[str, dict[str, Any]] = field(default_factory=dict)  # Skein config `providers`
    catalog_providers: dict[str, dict[str, Any]] = field(default_factory=dict)
    models: dict[str, dict[str, Any]] = field(default_factory=dict)  # bundles/models.yaml `models`
    routing: dict[str, Any] = field(default_factory=dict)  # Skein config `routing`
    prefixes: dict[str, str] = field(default_factory=dict)  # model -> its first entry's LiteLLM prefix
    unmapped: list[str] = field(default_factory=list)  # one line each: what and why

    def catalog(self) -> dict[str, Any]:
        return {"providers": self.catalog_providers, "models": self.models}


def import_litellm(config: Any) -> Imported:
    result = Imported()
    if not isinstance(config, dict) or not isinstance(config.get("model_list"), list):
        result.unmapped.append("model_list: not found (a LiteLLM proxy config has a top-level model_list)")
        return result
    for section in PROXY_SECTIONS:
        value = config.get(section)
        if not value:
            continue
        if isinstance(value, dict) and section in ("router_settings", "litellm_settings"):
            _router(result, section, value)
            value = {key: v for key, v in value.items() if key not in ROUTER_KEYS}
            if not value:
                continue
        keys = ", ".join(sorted(value)) if isinstance(value, dict) else "..."
        result.unmapped.append(f"{section} ({keys}): proxy-wide LiteLLM settings have no direct equivalent")
    for index, entry in enumerate(config["model_list"]):
        _entry(result, index, entry)
    return result


def _router(result: Imported, section: str, settings: dict[str, Any]) -> None:
    """LiteLLM's retries, fallbacks and cooldowns as Skein's ``routing`` settings."""
    routing = result.routing
    retries = settings.get("num_retries")
    if isinstance(retries, int) and not isinstance(retries, bool) and retries >= 0:
        routing["retries"] = min(retries, 10)
    fails = settings.get("allowed_fails")
    if isinstance(fails, int) and not isinstance(fails, bool) and fails > 0:
        routing["breaker_failures"] = fails
    cooldown = settings.get("cooldown_time")
    if isinstance(cooldown, int | float) and not isinstance(cooldown, bool) and cooldown > 0:
        routing["breaker_cooldown_seconds"] = float(cooldown)
    strategy = settings.get("routing_strategy")
    if strategy in STRATEGIES:
        routing["strategy"] = STRATEGIES[str(strategy)]
    elif strategy is not None:
        result.unmapped.append(
            f"{section}.routing_strategy {strategy!r}: Skein has weighted and least_in_flight"
        )
    for rule in settings.get("fallbacks") or ():
        if isinstance(rule, dict):
            for model, alternatives in rule.items():
                if isinstance(alternatives, list) and all(isinstance(a, str) for a in alternatives):
                    routing.setdefault("fallbacks", {})[str(model)] = list(alternatives)


def _entry(result: Imported, index: int, entry: Any) -> None:
    where = f"model_list[{index}]"
    if not isinstance(entry, dict) or not isinstance(entry.get("litellm_params"), dict):
        result.unmapped.append(f"{where}: no litellm_params mapping")
        return
    params: dict[str, Any] = entry["litellm_params"]
    name = str(entry.get("model_name") or "")
    target = str(params.get("model") or "")
    where = f"{where} ({name or '?'})"
    if not name or "/" not in target:
        result.unmapped.append(f"{where}: needs model_name and litellm_params.model as 'provider/name'")
        return
    prefix, upstream = target.split("/", 1)
    if prefix not in OPENAI_COMPATIBLE and prefix not in NATIVE:
        result.unmapped.append(f"{where}: provider {prefix!r} is not one Skein can forward to")
        return
    default = NATIVE[prefix][1] if prefix in NATIVE else OPENAI_COMPATIBLE[prefix]
    base_url = params.get("api_base") or default
    if not base_url:
        result.unmapped.append(f"{where}: provider {prefix!r} needs litellm_params.api_base")
        return
    if name in result.models:
        _deployment(result, where, name, prefix, str(base_url), params)
        return
    provider = _provider(result, where, prefix, str(base_url), params.get("api_key"))
    model: dict[str, Any] = {"provider": provider}
    if upstream != name:
        model["upstream_name"] = upstream
    model.update(_prices(entry, params))
    result.models[name] = model
    result.prefixes[name] = prefix
    extra = sorted(set(params) - READ_PARAMS)
    if extra:
        result.unmapped.append(
            f"{where}: litellm_params {', '.join(extra)} not mapped (limits, budgets: role profiles)"
        )


def _deployment(
    result: Imported, where: str, name: str, prefix: str, base_url: str, params: dict[str, Any]
) -> None:
    """A further entry of ``name``: another deployment of its catalog provider, or unmapped."""
    first = str(result.models[name]["provider"])
    if PROVIDER_NAMES.get(prefix, prefix) != PROVIDER_NAMES.get(result.prefixes[name], result.prefixes[name]):
        result.unmapped.append(
            f"{where}: a second deployment of {name} on provider {prefix!r}, not {first!r}"
            " (a Skein model has one catalog provider: policy judges it)"
        )
        return
    deployments = result.routing.setdefault("deployments", {}).setdefault(name, [{"provider": first}])
    known = set(result.providers)
    provider = _provider(result, where, prefix, base_url, params.get("api_key"))
    if provider not in known:  # a new entry: another region or key of the first one's provider
        result.providers[provider]["catalog_provider"] = first
        result.catalog_providers.pop(provider, None)
    if any(d["provider"] == provider for d in deployments):
        result.unmapped.append(f"{where}: the same provider, address and key as another deployment of {name}")
        return
    deployment: dict[str, Any] = {"provider": provider}
    weight = params.get("weight")
    if isinstance(weight, int | float) and not isinstance(weight, bool) and weight > 0:
        deployment["weight"] = weight
    deployments.append(deployment)


def _provider(result: Imported, where: str, prefix: str, base_url: str, api_key: Any) -> str:
    """The Skein provider for this (prefix, base URL, key): reused when an earlier entry matches."""
    settings: dict[str, Any] = {"base_url": base_url}
    if prefix in NATIVE:
        settings = {
            "base_url": base_url.rstrip("/").removesuffix("/v1"),  # the native API's root
            "dialect": NATIVE[prefix][0],
            "openai_path": "/v1",
        }
    settings["api_key_env"] = _key_env(result, where, prefix, api_key)
    for name, existing in result.providers.items():
        if existing == settings:
            return name
    base = PROVIDER_NAMES.get(prefix, prefix).replace("_", "-")
    name, n = base, 2
    while name in result.providers:
        name, n = f"{base}-{n}", n + 1
    result.providers[name] = settings
    result.catalog_providers[name] = {"local": True} if _is_local(base_url) else {}
    return name


def _key_env(result: Imported, where: str, prefix: str, api_key: Any) -> str | None:
    if api_key is None:
        return None if prefix in NO_KEY else f"{PROVIDER_NAMES.get(prefix, prefix).upper()}_API_KEY"
    match = ENV_KEY.match(str(api_key))
    if match:
        return match.group(1)
    variable = f"{PROVIDER_NAMES.get(prefix, prefix).upper()}_API_KEY"
    result.unmapped.append(
        f"{where}: api_key is a literal secret, not copied; put it in the environment variable {variable}"
    )
    return variable


def _prices(entry: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    raw_info = entry.get("model_info")
    info: dict[str, Any] = raw_info if isinstance(raw_info, dict) else {}
    out: dict[str, Any] = {}
    for source, target in (
        ("input_cost_per_token", "input_per_1k"),
        ("output_cost_per_token", "output_per_1k"),
    ):
        value = params.get(source, info.get(source))
        if isinstance(value, int | float) and value >= 0:
            out[target] = round(value * 1000, 10)
    if info.get("mode") == "embedding":
        out["kind"] = "embeddings"
    return out


def _is_local(base_url: str) -> bool:
    host = urlsplit(base_url).hostname or ""
    return host in ("localhost", "127.0.0.1", "::1") or host.endswith(".local")
