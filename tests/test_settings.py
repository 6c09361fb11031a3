from __future__ import annotations

from pathlib import Path

import pytest

from gateway.settings import SettingsError, load_settings


def test_defaults_are_safe() -> None:
    settings = load_settings(None, {})
    assert settings.dev.enabled is False
    assert "none" not in [a.lower() for a in settings.auth.algorithms]
    assert not any(a.startswith("HS") for a in settings.auth.algorithms)
    assert settings.policy.engine == "embedded"


def test_file_then_environment(tmp_path: Path) -> None:
    config = tmp_path / "skein.yaml"
    config.write_text("server:\n  port: 9000\nauth:\n  audience: skein\n")
    settings = load_settings(config, {"SKEIN_SERVER__PORT": "9100", "SKEIN_DEV__ENABLED": "true"})
    assert settings.server.port == 9100
    assert settings.dev.enabled is True
    assert settings.auth.audience == ("skein",)


def test_config_path_from_environment(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("log_level: debug\n")
    assert load_settings(None, {"SKEIN_CONFIG": str(config)}).log_level == "debug"


def test_unknown_key_in_file_names_the_key(tmp_path: Path) -> None:
    config = tmp_path / "skein.yaml"
    config.write_text("server:\n  prot: 9000\n")
    with pytest.raises(SettingsError, match=r"server\.prot: unknown key"):
        load_settings(config, {})


def test_unknown_environment_variable_names_the_variable() -> None:
    with pytest.raises(SettingsError, match="SKEIN_SERVR__PORT"):
        load_settings(None, {"SKEIN_SERVR__PORT": "1"})


def test_alg_none_is_refused() -> None:
    with pytest.raises(SettingsError, match="none"):
        load_settings(None, {"SKEIN_AUTH__ALGORITHMS": "[RS256, none]"})


def test_bad_yaml_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("server: [unclosed\n")
    with pytest.raises(SettingsError, match="not valid YAML"):
        load_settings(bad, {})
    with pytest.raises(SettingsError, match="cannot read"):
        load_settings(tmp_path / "missing.yaml", {})


def test_provider_settings() -> None:
    env = {
        "SKEIN_PROVIDERS__OPENAI__BASE_URL": "http://127.0.0.1:9/v1",
        "SKEIN_PROVIDERS__OPENAI__API_KEY_ENV": "K",
    }
    provider = load_settings(None, env).providers["openai"]
    assert provider.dialect == "openai" and provider.api_key_env == "K"


def test_providers_name_the_api_they_speak() -> None:
    env = {
        "SKEIN_PROVIDERS__CLAUDE__BASE_URL": "https://api.anthropic.com",
        "SKEIN_PROVIDERS__CLAUDE__DIALECT": "anthropic",
        "SKEIN_PROVIDERS__LOCAL__BASE_URL": "http://127.0.0.1:11434",
        "SKEIN_PROVIDERS__LOCAL__DIALECT": "ollama",
    }
    settings = load_settings(None, env)
    assert settings.providers["claude"].dialect == "anthropic"
    assert settings.providers["local"].dialect == "ollama"
    with pytest.raises(SettingsError, match="dialect"):
        load_settings(None, {**env, "SKEIN_PROVIDERS__LOCAL__DIALECT": "gemini"})
