"""The top-level ``Settings``: every section together, the checks that span sections, and the
JSON schema of the config file."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import model_validator

from gateway.settings.auth import AuthSettings, DevSettings
from gateway.settings.base import Strict
from gateway.settings.guard import GuardSettings
from gateway.settings.mcp import ControllerSettings, McpSettings
from gateway.settings.policy import BundleSettings, PolicySettings
from gateway.settings.server import ServerSettings
from gateway.settings.storage import AuditSettings, StateSettings
from gateway.settings.upstream import ProviderSettings, RoutingSettings


class Settings(Strict):
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
