"""Loading: built-in defaults < the YAML file < ``SKEIN_*`` environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from gateway.settings.base import CONFIG_ENV, ENV_PREFIX, SettingsError
from gateway.settings.core import Settings
from gateway.settings.explain import explain, one_line


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
        raise SettingsError(explain(exc, from_env, path)) from exc


def _read_yaml(path: Path) -> dict[str, Any]:
    import yaml  # here, not at the top: `skein audit tail` without a config never needs it

    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SettingsError(
            f"cannot read config file {path}: {exc.strerror} (check --config / {CONFIG_ENV})"
        ) from exc
    except yaml.YAMLError as exc:
        raise SettingsError(f"config file {path} is not valid YAML: {one_line(str(exc))}") from exc
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
        raise SettingsError(f"{env_name}: cannot parse the value as YAML: {one_line(str(exc))}") from exc
    return tuple(keys)
