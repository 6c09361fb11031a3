"""Start-up checks that need the environment, run before the server starts.

``skein serve`` runs them before it binds a port or loads a model, and ``skein config check``
runs the same list, so a mistake is found by the check and not at 3 a.m. Each problem is
one line naming the key and what to do. Errors stop ``serve`` (exit 2); warnings are logged.

What is checked here and not in the settings model: whatever depends on the machine the
gateway runs on (environment variables holding secrets, files, the listen address) and the
bundle set-up rules of ``gateway.bundle.setup`` (which read the trusted key files).
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from gateway.settings import Settings, SettingsError


@dataclass(frozen=True)
class Finding:
    level: Literal["error", "warning"]
    message: str


def preflight(settings: Settings, environ: Mapping[str, str], *, listen: bool = False) -> list[Finding]:
    """Every problem found; ``listen``: also check that the listen address is free."""
    findings = [*_providers(settings, environ), *_bundle(settings), *_dev_mode(settings)]
    if listen:
        findings += _address(settings.server.host, settings.server.port)
    return findings


def _providers(settings: Settings, environ: Mapping[str, str]) -> list[Finding]:
    findings = []
    for name, provider in settings.providers.items():
        key = f"providers.{name}.api_key_env"
        if provider.dialect == "echo":
            continue
        if "api_key_env" not in provider.model_fields_set:
            findings.append(
                Finding(
                    "warning",
                    f"{key} is not set: requests to {name} go without an API key; name the variable "
                    f"that holds the key, or write `api_key_env: null` if {name} needs none",
                )
            )
        elif provider.api_key_env is not None and not environ.get(provider.api_key_env):
            findings.append(
                Finding(
                    "error",
                    f"{key}: the environment variable {provider.api_key_env} is not set (or empty); "
                    f"export it with {name}'s API key, or set `api_key_env: null` if {name} needs none",
                )
            )
    return findings


def _bundle(settings: Settings) -> list[Finding]:
    from gateway.bundle.setup import source_trust  # reads the trusted key files

    bundle = settings.bundle
    try:
        source_trust(settings)
    except SettingsError as exc:
        return [Finding("error", str(exc))]
    if bundle.source == "directory" and not bundle.policies_dir.is_dir():
        return [
            Finding(
                "error",
                f"bundle.policies_dir: {bundle.policies_dir} is not a directory; run skein from the "
                "repository root or set bundle.policies_dir (SKEIN_BUNDLE__POLICIES_DIR)",
            )
        ]
    if bundle.source == "file" and bundle.path is not None and not bundle.path.exists():
        return [
            Finding(
                "warning",
                f"bundle.path: {bundle.path} does not exist yet; the gateway answers 503 no_bundle "
                "until a signed bundle is there (skein bundle build + skein bundle sign)",
            )
        ]
    return []


def _dev_mode(settings: Settings) -> list[Finding]:
    if not settings.dev.enabled:
        return []
    unverified = "" if settings.bundle.verification(True) else "; bundles are not verified (bundle.verify)"
    message = (
        "dev mode is on (dev.enabled, SKEIN_DEV__ENABLED): tokens minted with `skein token` are "
        f"accepted{unverified}; never in production"
    )
    return [Finding("warning", message)]


def _address(host: str, port: int) -> list[Finding]:
    if port == 0:
        return []
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # The same option uvicorn sets, so a port in TIME_WAIT is not reported as taken.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            why = "already in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
            return [
                Finding(
                    "error",
                    f"server.host/server.port: cannot listen on {host}:{port}: {why}; stop the other "
                    "process or choose another port (--port, SKEIN_SERVER__PORT)",
                )
            ]
    return []


def errors(findings: list[Finding]) -> list[str]:
    return [f.message for f in findings if f.level == "error"]


def warnings(findings: list[Finding]) -> list[str]:
    return [f.message for f in findings if f.level == "warning"]
