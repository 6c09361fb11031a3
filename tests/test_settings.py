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


def test_a_mistyped_key_gets_a_suggestion_in_file_terms(tmp_path: Path) -> None:
    config = tmp_path / "skein.yaml"
    config.write_text("bundle:\n  trusted_key: {ci: k.pem}\naudit:\n  sink: sqlite\n  sqlite_pth: a.db\n")
    with pytest.raises(SettingsError) as caught:
        load_settings(config, {})
    assert sorted(str(caught.value).splitlines()) == [
        f"{config}: audit.sqlite_pth: unknown key; did you mean audit.sqlite_path?",
        f"{config}: bundle.trusted_key: unknown key; did you mean bundle.trusted_keys?",
    ]


def test_a_mistyped_variable_gets_the_corrected_variable() -> None:
    for wrong, right in (
        ("SKEIN_SERVR__PORT", "SKEIN_SERVER__PORT"),
        ("SKEIN_PROVIDERS__OPENAI__API_KEY_EMV", "SKEIN_PROVIDERS__OPENAI__API_KEY_ENV"),
        ("SKEIN_STATE__ROLE_BUDGETS__HR__DAILY_USDD", "SKEIN_STATE__ROLE_BUDGETS__HR__DAILY_USD"),
    ):
        env = {wrong: "1", "SKEIN_PROVIDERS__OPENAI__BASE_URL": "http://x"}
        with pytest.raises(SettingsError, match=f"{wrong}: .*unknown key; did you mean {right}\\?$"):
            load_settings(None, env)


def test_an_unknown_key_with_nothing_close_lists_the_valid_keys() -> None:
    with pytest.raises(SettingsError, match=r"xyzzy: unknown key; valid keys here: audit, auth, bundle"):
        load_settings(None, {"SKEIN_XYZZY": "1"})


def test_a_litellm_key_points_at_the_importer(tmp_path: Path) -> None:
    config = tmp_path / "litellm.yaml"
    config.write_text("model_list:\n  - model_name: gpt-4o\n    litellm_params: {model: openai/gpt-4o}\n")
    with pytest.raises(SettingsError, match=r"model_list: unknown key: this is a LiteLLM proxy setting; .*"
                       r"`skein config import-litellm FILE`"):  # fmt: skip
        load_settings(config, {})


def test_a_value_error_names_the_variable_that_set_part_of_a_list() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(None, {"SKEIN_AUTH__API_KEYS": "[{name: a, sha265: b}]"})
    lines = str(caught.value).splitlines()
    assert all(line.startswith("SKEIN_AUTH__API_KEYS: auth.api_keys.0.") for line in lines)
    assert (
        "SKEIN_AUTH__API_KEYS: auth.api_keys.0.sha265: unknown key; did you mean auth.api_keys.0.sha256?"
        in lines
    )


def test_a_deployment_names_a_configured_provider(tmp_path: Path) -> None:
    config = tmp_path / "skein.yaml"
    config.write_text(
        "providers:\n  openai: {base_url: 'http://127.0.0.1:1/v1'}\n"
        "routing:\n  deployments:\n    gpt-4o: [{provider: openai}, {provider: openai-eu, weight: 2}]\n"
    )
    with pytest.raises(
        SettingsError, match=r"routing\.deployments\.gpt-4o: provider 'openai-eu' is not in providers"
    ):
        load_settings(config, {})
