"""The one ``Settings`` object: a YAML file plus ``SKEIN_*`` environment variables.

Precedence: built-in defaults < the YAML file < environment. Nested keys use a double
underscore, values are parsed as YAML scalars (so lists and numbers work)::

    SKEIN_SERVER__PORT=9000
    SKEIN_AUTH__AUDIENCE=skein
    SKEIN_DEV__ENABLED=true

Unknown keys, in the file or the environment, are errors that name the key: a typo must
never silently fall back to a default. Nothing else in the code base reads the environment
(except provider API keys, whose variable *names* are configured here).

One module per group of sections: ``server``, ``auth`` (auth, dev), ``policy`` (policy,
bundle), ``upstream`` (providers, routing), ``guard``, ``storage`` (audit, state), ``mcp`` (mcp,
controller); ``core`` holds the top-level ``Settings`` and its JSON schema, ``loader`` reads the
file and the environment, ``explain`` turns validation errors into messages.
"""

from __future__ import annotations

from gateway.settings.auth import ApiKey, AuthSettings, DevSettings
from gateway.settings.base import CONFIG_ENV, ENV_PREFIX, SettingsError
from gateway.settings.core import Settings, json_schema
from gateway.settings.explain import LITELLM_KEYS
from gateway.settings.guard import GuardSettings, SecondOpinionSettings
from gateway.settings.loader import load_settings
from gateway.settings.mcp import ControllerSettings, McpServerSettings, McpSettings
from gateway.settings.policy import BundleSettings, PolicySettings
from gateway.settings.server import ServerSettings
from gateway.settings.storage import AuditSettings, ScopeBudget, StateSettings
from gateway.settings.upstream import Deployment, ProviderSettings, RoutingSettings

# What importers of the single module that preceded this package used; kept importable here.
__all__ = [
    "CONFIG_ENV",
    "ENV_PREFIX",
    "LITELLM_KEYS",
    "ApiKey",
    "AuditSettings",
    "AuthSettings",
    "BundleSettings",
    "ControllerSettings",
    "Deployment",
    "DevSettings",
    "GuardSettings",
    "McpServerSettings",
    "McpSettings",
    "PolicySettings",
    "ProviderSettings",
    "RoutingSettings",
    "ScopeBudget",
    "SecondOpinionSettings",
    "ServerSettings",
    "Settings",
    "SettingsError",
    "StateSettings",
    "json_schema",
    "load_settings",
]
