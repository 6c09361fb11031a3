"""``skein config check | schema | import-litellm``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from gateway.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from gateway.settings import Settings, json_schema
from signing.schema import Catalog
from tests.cli.conftest import Run
from tests.support.server import REPO

EXAMPLE = REPO / "deploy" / "skein.example.yaml"
SCHEMA = REPO / "docs" / "config.schema.json"


def test_the_published_schema_is_up_to_date() -> None:
    published = json.loads(SCHEMA.read_text(encoding="utf-8"))
    assert published == json_schema(), (
        "docs/config.schema.json is stale: run `.venv/bin/skein config schema --out docs/config.schema.json`"
    )


def test_schema_command_prints_the_schema(skein: Run) -> None:
    code, out, _ = skein("config", "schema")
    assert code == EXIT_OK and json.loads(out) == json_schema()
    assert json.loads(out)["properties"]["server"]["$ref"] == "#/$defs/ServerSettings"


def test_schema_rejects_unknown_keys_like_the_loader() -> None:
    server = json_schema()["$defs"]["ServerSettings"]
    assert server["additionalProperties"] is False and "port" in server["properties"]


def test_check_the_example_in_a_bare_checkout_lists_each_problem(skein: Run) -> None:
    code, out, _ = skein("config", "check", str(EXAMPLE), "--no-env")
    assert code == EXIT_FAILED
    errors = [line for line in out.splitlines() if line.startswith("error: ")]
    assert len(errors) == 2, out
    assert "providers.openai.api_key_env: the environment variable OPENAI_API_KEY is not set" in errors[0]
    assert "bundle.trusted_keys: cannot read keys/bundle.pub.pem" in errors[1]


def test_check_passes_once_the_key_and_variable_exist(
    skein: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert skein("keys", "generate", "--out", "keys/bundle")[0] == EXIT_OK
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    code, out, _ = skein("config", "check", str(EXAMPLE), "--json")
    report = json.loads(out)
    assert code == EXIT_OK and report["ok"] is True and report["errors"] == []
    assert any("bundle.path: dist/bundle.tar.gz does not exist yet" in w for w in report["warnings"])


def test_check_an_invalid_file(skein: Run, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("server:\n  prot: 1\nbundle:\n  verfiy: false\n")
    code, out, _ = skein("config", "check", str(bad), "--no-env")
    assert code == EXIT_FAILED
    assert f"error: {bad}: server.prot: unknown key; did you mean server.port?" in out
    assert f"error: {bad}: bundle.verfiy: unknown key; did you mean bundle.verify?" in out


def test_check_a_missing_file_is_a_usage_error(skein: Run, tmp_path: Path) -> None:
    code, _, err = skein("config", "check", str(tmp_path / "nope.yaml"))
    assert code == EXIT_USAGE and "no such file" in err


LITELLM = {
    "model_list": [
        {
            "model_name": "gpt-4o",
            "litellm_params": {"model": "openai/gpt-4o", "api_key": "os.environ/OPENAI_KEY", "rpm": 60},
        },
        {
            "model_name": "sonnet",
            "litellm_params": {"model": "anthropic/claude-3-5-sonnet-latest", "api_key": "sk-ant-secret"},
            "model_info": {"input_cost_per_token": 0.000003, "output_cost_per_token": 0.000015},
        },
        {
            "model_name": "llama",
            "litellm_params": {"model": "ollama/llama3.2", "api_base": "http://localhost:11434"},
        },
        {
            "model_name": "mini",
            "litellm_params": {"model": "openai/gpt-4o-mini", "api_key": "os.environ/OPENAI_KEY"},
        },
        {
            "model_name": "gpt-4o",
            "litellm_params": {"model": "azure/gpt-4o", "api_base": "https://x.azure.com"},
        },
        {"model_name": "titan", "litellm_params": {"model": "bedrock/amazon.titan-text"}},
        {
            "model_name": "mini",  # a second deployment: the same provider with another key
            "litellm_params": {
                "model": "openai/gpt-4o-mini",
                "api_key": "os.environ/OPENAI_KEY_B",
                "weight": 2,
            },
        },
        {
            "model_name": "mini",  # ... and one on another provider: not mapped
            "litellm_params": {"model": "anthropic/claude-3-5-haiku-latest"},
        },
    ],
    "general_settings": {"master_key": "sk-1234"},
    "router_settings": {
        "num_retries": 2,
        "allowed_fails": 3,
        "cooldown_time": 60,
        "routing_strategy": "least-busy",
        "fallbacks": [{"gpt-4o": ["mini", "sonnet"]}],
        "redis_host": "redis.internal",
    },
}


def test_import_litellm_maps_providers_and_catalog_and_lists_the_rest(skein: Run, tmp_path: Path) -> None:
    source = tmp_path / "litellm.yaml"
    source.write_text(yaml.safe_dump(LITELLM))
    code, out, _ = skein("config", "import-litellm", str(source), "--json")
    result = json.loads(out)
    assert code == EXIT_FAILED  # something was not mapped
    assert result["providers"] == {
        "openai": {"base_url": "https://api.openai.com/v1", "api_key_env": "OPENAI_KEY"},
        "anthropic": {
            "base_url": "https://api.anthropic.com",
            "dialect": "anthropic",
            "openai_path": "/v1",
            "api_key_env": "ANTHROPIC_API_KEY",
        },
        "ollama": {
            "base_url": "http://localhost:11434",
            "dialect": "ollama",
            "openai_path": "/v1",
            "api_key_env": None,
        },
        "openai-2": {
            "base_url": "https://api.openai.com/v1",
            "api_key_env": "OPENAI_KEY_B",
            "catalog_provider": "openai",
        },
    }
    assert result["routing"] == {
        "retries": 2,
        "breaker_failures": 3,
        "breaker_cooldown_seconds": 60.0,
        "strategy": "least_in_flight",
        "fallbacks": {"gpt-4o": ["mini", "sonnet"]},
        "deployments": {"mini": [{"provider": "openai"}, {"provider": "openai-2", "weight": 2}]},
    }
    assert "openai-2" not in result["catalog"]["providers"]  # a deployment, not a catalog provider
    assert result["catalog"]["models"] == {
        "gpt-4o": {"provider": "openai"},
        "sonnet": {
            "provider": "anthropic",
            "upstream_name": "claude-3-5-sonnet-latest",
            "input_per_1k": 0.003,
            "output_per_1k": 0.015,
        },
        "llama": {"provider": "ollama", "upstream_name": "llama3.2"},
        "mini": {"provider": "openai", "upstream_name": "gpt-4o-mini"},
    }
    assert result["catalog"]["providers"]["ollama"] == {"local": True}
    unmapped = "\n".join(result["unmapped"])
    for expected in (
        "general_settings (master_key)",
        "rpm",
        "literal secret",
        "'azure' is not",
        "a second deployment of mini on provider 'anthropic'",
        "router_settings (redis_host)",
        "'bedrock' is not",
    ):
        assert expected in unmapped
    assert "sk-ant-secret" not in out  # a secret is never copied anywhere
    # What it prints loads as Skein config and as a catalog.
    Settings.model_validate({"providers": result["providers"], "routing": result["routing"]})
    Catalog.model_validate(result["catalog"])


def test_import_litellm_text_output_is_two_yaml_documents(skein: Run, tmp_path: Path) -> None:
    source = tmp_path / "litellm.yaml"
    source.write_text(yaml.safe_dump({"model_list": LITELLM["model_list"][:1]}))
    code, out, _ = skein("config", "import-litellm", str(source))
    config, catalog = yaml.safe_load_all(out)
    assert config["providers"]["openai"]["api_key_env"] == "OPENAI_KEY"
    assert catalog["models"] == {"gpt-4o": {"provider": "openai"}}
    assert code == EXIT_FAILED and "rpm" in out  # rpm is listed as not mapped


def test_import_litellm_of_a_skein_config_says_what_is_missing(skein: Run) -> None:
    code, out, _ = skein("config", "import-litellm", str(EXAMPLE), "--json")
    assert code == EXIT_FAILED and json.loads(out)["unmapped"] == [
        "model_list: not found (a LiteLLM proxy config has a top-level model_list)"
    ]
