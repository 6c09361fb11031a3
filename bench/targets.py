"""The targets under test: how each is configured, started, probed and told apart.

A target is a URL plus, when the driver must start it, a command line run pinned to the
proxy CPU in its own process group. `prepare()` turns a target name into a `Target` or a
`Skip` with a reason that goes into the report. Skein's command lines live in
`SKEIN_SERVE` / `SKEIN_TOKEN` below and nowhere else.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

# --- Skein: the only place that knows how to start the gateway --------------------------------
# Placeholders: {python} the venv's python, {config} the generated YAML, {role} the caller's role.
SKEIN_SERVE = os.environ.get("SKEIN_SERVE_CMD", "{python} -m gateway --config {config} serve")
SKEIN_TOKEN = os.environ.get(
    "SKEIN_TOKEN_CMD", "{python} -m gateway --config {config} token --sub bench --role {role}"
)
SKEIN_PORT = int(os.environ.get("SKEIN_PORT", "8500"))
BENCH_GUARD_PER_CALLER = 256  # above the highest concurrency the bench drives (64)
SKEIN_ROLE = os.environ.get("SKEIN_ROLE", "bench")  # guard off
SKEIN_GUARD_ROLE = os.environ.get("SKEIN_GUARD_ROLE", "bench-guard")  # guard pseudonymize
OVERHEAD_HEADER = "x-skein-overhead-ms"
MCP_SERVER = "bench"  # the fake upstream's MCP endpoint, as Skein's mcp.servers name it

PYPROXY_PORT = int(os.environ.get("PYPROXY_PORT", "8300"))
NGINX_PORT = int(os.environ.get("NGINX_PORT", "8200"))
LITELLM_PORT = int(os.environ.get("LITELLM_PORT", "8100"))
CLIENT_TOKEN = "sk-bench-1234"  # what the anchors accept from the load generator

DEFAULT_TARGETS = ("direct", "skein", "skein-guard", "pyproxy-httpx", "pyproxy-aiohttp", "nginx")
ALL_TARGETS = (*DEFAULT_TARGETS, "litellm")

# Bench-owned role profiles, laid over a copy of the repository's bundles/ directory so that
# "guard off" and "guard pseudonymize" do not depend on how the shipped roles are tuned.
BENCH_PROFILES = {
    SKEIN_ROLE: {"mode": "off"},
    SKEIN_GUARD_ROLE: {"mode": "pseudonymize"},
}


@dataclass(frozen=True)
class Rig:
    """Where things are and which CPUs they get."""

    repo: Path
    run_dir: Path
    python: str
    upstream_port: int = 9000
    upstream_key: str = "sk-upstream"
    rig_cpus: str = "0"
    proxy_cpus: str = "1"
    ready_timeout_s: float = 180.0

    @property
    def bench_dir(self) -> Path:
        return self.repo / "bench"

    @property
    def upstream_url(self) -> str:
        return f"http://127.0.0.1:{self.upstream_port}"


@dataclass(frozen=True)
class Target:
    name: str
    url: str
    token: str
    command: tuple[str, ...] = ()  # empty: nothing to start
    env: dict[str, str] = field(default_factory=dict)
    cpus: str | None = None
    ready_path: str = "/v1/models"
    header: str = ""  # numeric response header the load generators average
    guard_expected: bool | None = None  # None: not a guard scenario; else must (not) pseudonymize
    note: str = ""
    mcp_path: str | None = None  # where it serves the bench MCP server (None: not in the mcp mode)

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])


@dataclass(frozen=True)
class Skip:
    name: str
    reason: str


def prepare(name: str, rig: Rig) -> Target | Skip:
    builders: dict[str, Callable[[Rig], Target | Skip]] = {
        "direct": _direct,
        "skein": lambda r: _skein(r, "skein", SKEIN_ROLE, guard=False),
        "skein-guard": lambda r: _skein(r, "skein-guard", SKEIN_GUARD_ROLE, guard=True),
        "pyproxy-httpx": lambda r: _pyproxy(r, "httpx"),
        "pyproxy-aiohttp": lambda r: _pyproxy(r, "aiohttp"),
        "nginx": _nginx,
        "litellm": _litellm,
    }
    if name not in builders:
        return Skip(name, f"unknown target (known: {', '.join(ALL_TARGETS)})")
    return builders[name](rig)


def _direct(rig: Rig) -> Target:
    return Target(
        "direct", rig.upstream_url, token=rig.upstream_key, note="wrk -> fake upstream", mcp_path="/mcp"
    )


# --- Skein -------------------------------------------------------------------------------------
def _skein(rig: Rig, name: str, role: str, guard: bool) -> Target | Skip:
    try:
        import gateway  # noqa: F401
    except ImportError:
        return Skip(name, "package `gateway` is not importable from this venv")
    config = write_skein_config(rig)
    env = {
        "BENCH_UPSTREAM_KEY": rig.upstream_key,
        "BENCH_MCP_AUTH": f"Bearer {rig.upstream_key}",  # Skein's credential for the MCP server
        "SKEIN_CONFIG": str(config),
    }
    token = _mint_token(rig, config, role, env)
    if isinstance(token, Skip):
        return Skip(name, token.reason)
    command = tuple(SKEIN_SERVE.format(python=rig.python, config=config).split())
    return Target(
        name,
        f"http://127.0.0.1:{SKEIN_PORT}",
        token=token,
        command=command,
        env=env,
        cpus=rig.proxy_cpus,
        ready_path="/readyz",
        header=OVERHEAD_HEADER,
        guard_expected=guard,
        note=f"role {role}, guard {'pseudonymize' if guard else 'off'}, audit SQLite",
        mcp_path=f"/mcp/{MCP_SERVER}",
    )


def write_skein_config(rig: Rig) -> Path:
    """The gateway's YAML config plus a bundle source directory with the bench roles."""
    base = rig.run_dir / "skein"
    config = base / "skein.yaml"
    if config.exists():
        return config
    bundles = base / "bundles"
    shutil.copytree(rig.repo / "bundles", bundles, dirs_exist_ok=True)
    (bundles / "profiles").mkdir(parents=True, exist_ok=True)
    for role, privacy in BENCH_PROFILES.items():
        profile = {
            "role": role,
            "display_name": f"Benchmark caller ({role})",
            "description": "Written by bench/targets.py for the load benchmark.",
            "models": {"allowed": ["gpt-4o-mini"], "default": "gpt-4o-mini"},
            "privacy": privacy,
            "extensions": [{"name": MCP_SERVER}],  # the fake upstream's MCP server, through Skein
            "tools": {"allow": [f"{MCP_SERVER}__*"]},
        }
        (bundles / "profiles" / f"{role}.yaml").write_text(yaml.safe_dump(profile, sort_keys=False))
    settings = {
        "state_dir": str(base / "state"),
        "log_level": "warning",
        "server": {"host": "127.0.0.1", "port": SKEIN_PORT},
        "dev": {"enabled": True},
        "bundle": {"policies_dir": str(rig.repo / "policies"), "profiles_dir": str(bundles)},
        "providers": {
            "openai": {
                "base_url": f"{rig.upstream_url}/v1",
                "dialect": "openai",
                "api_key_env": "BENCH_UPSTREAM_KEY",
            }
        },
        "mcp": {"servers": {MCP_SERVER: {"url": f"{rig.upstream_url}/mcp", "auth_env": "BENCH_MCP_AUTH"}}},
        # One bench token is one caller; the guard's fair share (8 calls of one caller at a
        # time, then 429) would measure the share, not the throughput, at c=16 and c=64.
        "guard": {"per_caller": BENCH_GUARD_PER_CALLER},
    }
    config.write_text(yaml.safe_dump(settings, sort_keys=False))
    return config


def _mint_token(rig: Rig, config: Path, role: str, env: dict[str, str]) -> str | Skip:
    command = SKEIN_TOKEN.format(python=rig.python, config=config, role=role).split()
    try:
        done = subprocess.run(
            command, cwd=rig.repo, env={**os.environ, **env}, capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Skip("skein", f"`{' '.join(command)}` failed: {exc}")
    lines = [line.strip() for line in done.stdout.splitlines() if line.strip()]
    if done.returncode != 0 or not lines or lines[-1].count(".") != 2:
        detail = (done.stderr.strip().splitlines() or ["no output"])[-1][:200]
        return Skip("skein", f"cannot mint a dev token (exit {done.returncode}): {detail}")
    return lines[-1]


# --- anchors -----------------------------------------------------------------------------------
def _pyproxy(rig: Rig, client: str) -> Target:
    command = (
        rig.python, "-m", "uvicorn", "bench.pyproxy:app", "--host", "127.0.0.1", "--port", str(PYPROXY_PORT),
        "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning",
        "--backlog", "4096",
    )  # fmt: skip
    env = {
        "PYPROXY_UPSTREAM": rig.upstream_url,
        "PYPROXY_TOKENS": CLIENT_TOKEN,
        "PYPROXY_UPSTREAM_KEY": rig.upstream_key,
        "PYPROXY_CLIENT": client,
    }
    return Target(
        f"pyproxy-{client}",
        f"http://127.0.0.1:{PYPROXY_PORT}",
        token=CLIENT_TOKEN,
        command=command,
        env=env,
        cpus=rig.proxy_cpus,
        note=f"starlette + uvicorn (uvloop, httptools) + {client}, no policy",
    )


def _nginx(rig: Rig) -> Target | Skip:
    binary = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if binary is None:
        return Skip("nginx", "nginx not installed (NGINX=1 bench/run.sh installs nginx-light)")
    prefix = rig.run_dir / "nginx"
    prefix.mkdir(parents=True, exist_ok=True)
    template = (rig.bench_dir / "nginx.conf.template").read_text()
    conf = prefix / "nginx.conf"
    conf.write_text(
        template.replace("@PREFIX@", str(prefix))
        .replace("@PORT@", str(NGINX_PORT))
        .replace("@UPSTREAM_PORT@", str(rig.upstream_port))
        .replace("@UPSTREAM_KEY@", rig.upstream_key)
    )
    return Target(
        "nginx",
        f"http://127.0.0.1:{NGINX_PORT}",
        token=CLIENT_TOKEN,
        command=(binary, "-p", str(prefix), "-c", str(conf)),
        cpus=rig.proxy_cpus,
        note="1 worker, upstream keep-alive, proxy_buffering off",
    )


def litellm_bin(rig: Rig) -> Path:
    return Path(os.environ.get("LITELLM_VENV", str(rig.run_dir.parent / "venv-litellm"))) / "bin" / "litellm"


def _litellm(rig: Rig) -> Target | Skip:
    binary = litellm_bin(rig)
    if not binary.exists():
        return Skip("litellm", f"{binary} missing (LITELLM=1 bench/run.sh installs it)")
    conf = rig.run_dir / "litellm.yaml"
    conf.write_text(
        (rig.bench_dir / "litellm.yaml.template")
        .read_text()
        .replace("@UPSTREAM_URL@", rig.upstream_url)
        .replace("@UPSTREAM_KEY@", rig.upstream_key)
        .replace("@CLIENT_TOKEN@", CLIENT_TOKEN)
    )
    env = {
        "LITELLM_LOG": "ERROR",
        "LITELLM_MODE": "PRODUCTION",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "DISABLE_ADMIN_UI": "True",
        "NO_DOCS": "True",
        "NO_REDOC": "True",
    }
    command = (
        str(binary), "--config", str(conf), "--host", "127.0.0.1", "--port", str(LITELLM_PORT),
        "--telemetry", "False", "--num_workers", "1",
    )  # fmt: skip
    return Target(
        "litellm",
        f"http://127.0.0.1:{LITELLM_PORT}",
        token=CLIENT_TOKEN,
        command=command,
        env=env,
        cpus=rig.proxy_cpus,
        note="LiteLLM proxy, 1 worker, no database, callbacks off",
    )
