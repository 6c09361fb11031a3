"""deploy/ parses, and every Skein setting it carries validates against gateway.settings.

Nothing here starts a container: the files are checked as data (docs/deploy.md).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.settings import Settings, SettingsError, load_settings

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
COMPOSE_CONFIG = DEPLOY / "skein.compose.yaml"
DATA_FILES = sorted(p for p in DEPLOY.rglob("*") if p.suffix in {".yaml", ".yml", ".json"})
EXPECTED_SERVICES = {"skein", "postgres", "redis", "keycloak", "vault", "opa", "prometheus", "grafana"}
_INTERPOLATION = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*(?::?-([^}]*))?\}")


def load_all(path: Path) -> list[Any]:
    text = path.read_text(encoding="utf-8")
    return [json.loads(text)] if path.suffix == ".json" else list(yaml.safe_load_all(text))


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    return loaded


def service(name: str) -> dict[str, Any]:
    found: dict[str, Any] = compose()["services"][name]
    return found


def compose_env(name: str) -> dict[str, str]:
    """The service's environment, with ``${VAR:-default}`` resolved to its default."""
    env = service(name).get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: _INTERPOLATION.sub(lambda m: m.group(1) or "", str(value)) for key, value in env.items()}


def skein_vars(env: dict[str, str]) -> dict[str, str]:
    """SKEIN_* variables except SKEIN_CONFIG (the tests pass the file itself)."""
    return {k: v for k, v in env.items() if k.startswith("SKEIN_") and k != "SKEIN_CONFIG"}


def mounts(name: str) -> dict[str, tuple[str, bool]]:
    """Container path -> (host source, read-only) of a compose service's bind mounts."""
    result = {}
    for volume in service(name).get("volumes", []):
        if isinstance(volume, str):
            source, target, *mode = volume.split(":")
            result[target] = (source, mode == ["ro"])
        else:
            result[volume["target"]] = (volume["source"], bool(volume.get("read_only")))
    return result


def k8s_docs() -> dict[tuple[str, str], dict[str, Any]]:
    docs = [doc for path in sorted(K8S.glob("*.yaml")) for doc in load_all(path) if doc]
    return {(doc["kind"], doc["metadata"]["name"]): doc for doc in docs}


def pod_spec() -> dict[str, Any]:
    spec: dict[str, Any] = k8s_docs()[("Deployment", "skein")]["spec"]["template"]["spec"]
    return spec


def k8s_settings(tmp_path: Path, extra_yaml: str = "") -> Settings:
    """The configmap's skein.yaml plus the pod's env and the Secret's keys, as the pod sees them."""
    docs = k8s_docs()
    config = tmp_path / "skein.yaml"
    config.write_text(docs[("ConfigMap", "skein-config")]["data"]["skein.yaml"] + extra_yaml)
    container = pod_spec()["containers"][0]
    env = {item["name"]: item["value"] for item in container.get("env", [])}
    for source in container.get("envFrom", []):
        env.update(docs[("Secret", source["secretRef"]["name"])]["stringData"])
    assert env.get("SKEIN_CONFIG") == "/etc/skein/skein.yaml"
    return load_settings(config, skein_vars(env))


@pytest.mark.parametrize("path", DATA_FILES, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_every_data_file_parses(path: Path) -> None:
    docs = load_all(path)
    assert docs and all(doc is not None for doc in docs), f"{path} has an empty document"


def test_compose_services_and_dependencies() -> None:
    services = compose()["services"]
    assert set(services) >= EXPECTED_SERVICES
    for name, spec in services.items():
        for dep, cond in spec.get("depends_on", {}).items():
            assert dep in services, f"{name} depends on unknown {dep}"
            condition = cond["condition"]
            assert condition in {"service_started", "service_healthy", "service_completed_successfully"}
            if condition == "service_healthy" and dep != "skein":  # skein's is in the Dockerfile
                assert "healthcheck" in services[dep], f"{dep} has no healthcheck"
    assert service("postgres")["image"].startswith("postgres:16")
    assert service("redis")["image"].startswith("redis:7")
    assert service("opa")["image"].startswith("openpolicyagent/opa:")


def test_compose_settings_validate() -> None:
    for name in ("skein", "skein-migrate"):
        settings = load_settings(COMPOSE_CONFIG, skein_vars(compose_env(name)))
        assert settings.server.host == "0.0.0.0"
        assert settings.auth.roles_claim == "realm_access.roles"
        assert settings.auth.audience == ("skein",)
        assert settings.bundle.source == "file" and settings.bundle.verification(settings.dev.enabled)
        assert settings.bundle.trusted_keys
        assert all(p.api_key_env for p in settings.providers.values())
        assert settings.audit.sink == "postgres" and settings.state.backend == "redis"
        assert not settings.dev.enabled


def test_compose_paths_are_mounted() -> None:
    env = compose_env("skein")
    settings = load_settings(COMPOSE_CONFIG, skein_vars(env))
    volumes = mounts("skein")
    assert volumes[env["SKEIN_CONFIG"]] == ("./skein.compose.yaml", True)
    for path in (settings.bundle.path, *settings.bundle.trusted_keys.values()):
        assert path is not None
        source, read_only = volumes[str(path)]
        assert read_only, f"{path} must be mounted read-only"
        assert (DEPLOY / source).resolve().is_relative_to(ROOT)


def test_compose_keycloak_matches_auth() -> None:
    settings = load_settings(COMPOSE_CONFIG, {})
    realm = json.loads((DEPLOY / "keycloak" / "realm-skein.json").read_text(encoding="utf-8"))
    assert settings.auth.issuer is not None and settings.auth.issuer.endswith(f"/realms/{realm['realm']}")
    assert settings.auth.issuer.startswith(compose_env("keycloak")["KC_HOSTNAME"])
    roles = {role["name"] for role in realm["roles"]["realm"]}
    assert {"finance", "analyst", "developer", "manager", "auditor"} <= roles
    client = next(c for c in realm["clients"] if c["clientId"] == "skein")
    audiences = {m["config"].get("included.client.audience") for m in client["protocolMappers"]}
    assert set(settings.auth.audience) <= audiences
    assert len(realm["users"]) >= 2
    assert all(set(user["realmRoles"]) <= roles for user in realm["users"])
    assert "/opt/keycloak/data/import/realm-skein.json" in mounts("keycloak")


def test_opa_verifies_with_the_gateways_key() -> None:
    settings = load_settings(COMPOSE_CONFIG, {})
    args = service("opa")["command"]
    assert args[:2] == ["run", "-s"]
    flags = dict(a.split("=", 1) for a in args if a.startswith("--") and "=" in a)
    assert flags["--verification-key-id"] in settings.bundle.trusted_keys
    assert flags["--signing-alg"] in settings.bundle.allowed_algorithms
    opa_volumes, skein_volumes = mounts("opa"), mounts("skein")
    key_source = skein_volumes[str(settings.bundle.trusted_keys[flags["--verification-key-id"]])][0]
    assert opa_volumes[flags["--verification-key"]][0] == key_source


def test_dockerfile() -> None:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.11-slim\b", text, re.M)
    user = re.findall(r"^USER (\S+)", text, re.M)
    assert user and not user[-1].startswith(("root", "0"))
    assert re.search(r"^HEALTHCHECK .*\n?.*/healthz", text, re.M)
    env = dict(re.findall(r"\b(SKEIN_[A-Z_]+)=(\S+)", text))
    assert env["SKEIN_SERVER__HOST"] == "0.0.0.0"
    load_settings(None, env)
    assert not re.search(r"(?i)^(ENV|ARG)\b.*(api_key|token|password|secret)", text, re.M)


def test_k8s_settings_validate(tmp_path: Path) -> None:
    settings = k8s_settings(tmp_path)
    assert settings.server.host == "0.0.0.0"
    assert settings.guard.workers > 0  # 0 would count the node's cores
    assert settings.guard.keys != "file"  # replicas must share pseudonym keys
    assert settings.audit.sink == "postgres" and settings.state.backend == "redis"
    assert settings.bundle.verification(settings.dev.enabled) and settings.bundle.trusted_keys
    container = pod_spec()["containers"][0]
    mounted = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod_spec()["volumes"]}
    assert "emptyDir" in volumes[mounted[str(settings.state_dir)]]
    for path in settings.bundle.trusted_keys.values():
        volume = volumes[mounted[str(path.parent)]]
        keys = k8s_docs()[("ConfigMap", volume["configMap"]["name"])]["data"]
        assert path.name in keys


@pytest.mark.parametrize("where", ["compose", "k8s"])
def test_unknown_keys_fail(tmp_path: Path, where: str) -> None:
    if where == "compose":
        config = tmp_path / "c.yaml"
        config.write_text(COMPOSE_CONFIG.read_text(encoding="utf-8") + "\nguard_typo: 1\n")
        with pytest.raises(SettingsError, match="guard_typo"):
            load_settings(config, {})
        with pytest.raises(SettingsError, match="SKEIN_AUDIT__POSTGRES_DNS"):
            load_settings(COMPOSE_CONFIG, {"SKEIN_AUDIT__POSTGRES_DNS": "x"})
    else:
        with pytest.raises(SettingsError, match="statedir"):
            k8s_settings(tmp_path, "statedir: /x\n")


def test_k8s_deployment() -> None:
    docs = k8s_docs()
    deployment = docs[("Deployment", "skein")]
    assert deployment["spec"]["replicas"] == 2
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert docs[("Service", "skein")]["spec"]["selector"].items() <= labels.items()
    assert docs[("PodDisruptionBudget", "skein")]["spec"]["selector"]["matchLabels"].items() <= labels.items()
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true" and annotations["prometheus.io/path"] == "/metrics"
    spec = pod_spec()
    assert spec["securityContext"]["runAsNonRoot"] is True
    for container in spec["containers"] + spec.get("initContainers", []):
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert container["resources"]["requests"]
    main = spec["containers"][0]
    assert main["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert main["livenessProbe"]["httpGet"]["path"] == "/healthz"
    namespaces = {doc["metadata"].get("namespace") for (kind, _), doc in docs.items() if kind != "Namespace"}
    assert namespaces == {name for (kind, name) in docs if kind == "Namespace"}


def test_prometheus_scrapes_metrics() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text(encoding="utf-8"))
    jobs = config["scrape_configs"]
    skein = [job for job in jobs if any("skein:8080" in s["targets"] for s in job["static_configs"])]
    assert skein and all(job.get("metrics_path", "/metrics") == "/metrics" for job in skein)
    assert mounts("prometheus")["/etc/prometheus/prometheus.yml"] == ("./prometheus.yml", True)


def test_grafana_mounts_existing_folders() -> None:
    volumes = mounts("grafana")
    expected = {
        "/etc/grafana/provisioning": ROOT / "grafana" / "provisioning",
        "/var/lib/grafana/dashboards/skein": ROOT / "grafana" / "dashboards",
    }
    for target, folder in expected.items():
        source = (DEPLOY / volumes[target][0]).resolve()
        assert source == folder and source.is_dir(), f"{target} <- {source}"
    assert "prometheus" in compose()["services"]  # the datasource's http://prometheus:9090
