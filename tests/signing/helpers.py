"""Small bundle sources and signed test bundles, shared by the signing tests.

The sources are made here (two profiles, the catalog, a policy and its test) so the tests
do not depend on the real ``policies/`` and ``bundles/`` being finished.
"""

from __future__ import annotations

import base64
import io
import json
import tarfile
from collections.abc import Mapping
from pathlib import Path

from signing import PrivateKey, PublicKey, build_bundle, generate_key, load_private_key, load_public_key
from signing.archive import read_archive, write_archive

CATALOG = """\
providers:
  openai: {}
  anthropic: {}
  ollama: {local: true}
models:
  gpt-4o: {provider: openai, input_per_1k: 0.0025, output_per_1k: 0.01}
  gpt-4o-mini: {provider: openai, input_per_1k: 0.00015, output_per_1k: 0.0006}
  claude-3-5-haiku: {provider: anthropic, input_per_1k: 0.0008, output_per_1k: 0.004}
  llama3.2: {provider: ollama}
"""

FINANCE = """\
role: finance
display_name: Finance
models:
  allowed: ["gpt-4o*", "llama3.2"]
  default: gpt-4o-mini
  downshift:
    - {budget_used_pct: 85, from: gpt-4o, to: gpt-4o-mini}
providers:
  allowed: [openai, ollama]
privacy:
  mode: pseudonymize
  entities: [EMAIL_ADDRESS, US_SSN]
approvals:
  tools: ["github__create_*"]
  approver_role: manager
"""

MANAGER = """\
role: manager
display_name: Manager
models:
  allowed: ["*"]
  default: gpt-4o
"""

POLICY = """\
# Entry point: data.gateway.decision
package gateway

default decision := {"allow": false}

decision := {"allow": true} if {
\tsome role in input.principal.roles
\tdata.profiles[role]
}
"""

POLICY_TEST = """\
package gateway_test

import data.gateway

test_finance_allowed if gateway.decision.allow with input as {"principal": {"roles": ["finance"]}}
"""


def write_sources(root: Path) -> tuple[Path, Path]:
    """Create ``root/policies`` and ``root/data``; return both directories."""
    policies, data = root / "policies", root / "data"
    (data / "profiles").mkdir(parents=True)
    policies.mkdir(parents=True)
    (data / "models.yaml").write_text(CATALOG)
    (data / "profiles" / "finance.yaml").write_text(FINANCE)
    (data / "profiles" / "manager.yaml").write_text(MANAGER)
    (policies / "decision.rego").write_text(POLICY)
    (policies / "decision_test.rego").write_text(POLICY_TEST)
    (policies / "README.md").write_text("not packed: only .rego files are\n")
    return policies, data


def build_fixture_bundle(root: Path, revision: str | None = "test-1") -> bytes:
    policies, data = write_sources(root)
    return build_bundle(policies, data, revision=revision)


def keypair(alg: str) -> tuple[PrivateKey, PublicKey]:
    private_pem, public_pem = generate_key(alg, rsa_bits=2048)  # 2048: fast enough for tests
    return load_private_key(private_pem), load_public_key(public_pem)


def raw_tar_gz(members: Mapping[str, bytes]) -> bytes:
    """A tar.gz with members named exactly as given (no normalisation, unlike the writer)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def tar_gz_with(infos: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    """A tar.gz from prepared headers (links, devices ...)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        for info, content in infos:
            tar.addfile(info, io.BytesIO(content) if content is not None else None)
    return buffer.getvalue()


def members_of(bundle: bytes) -> dict[str, bytes]:
    """The raw members of a bundle, names as stored (with OPA's leading slash)."""
    out: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(bundle), mode="r:gz") as tar:
        for member in tar:
            handle = tar.extractfile(member)
            out[member.name] = handle.read() if handle else b""
    return out


KeyPair = tuple[PrivateKey, PublicKey]


def repack(bundle: bytes, **changes: bytes | None) -> bytes:
    """The bundle with members replaced, added (bytes) or removed (None); keys use '__' for '/'."""
    files = read_archive(bundle)
    for key, content in changes.items():
        name = key.replace("__", "/").replace("_DOT_", ".")
        if content is None:
            files.pop(name)
        else:
            files[name] = content
    return write_archive(files)


def forge_token(header: Mapping[str, object], payload: Mapping[str, object], signature: bytes = b"") -> str:
    """A compact JWS with any header and signature, for algorithm-confusion cases."""
    parts = [json.dumps(header).encode(), json.dumps(payload).encode()]
    encoded = [base64.urlsafe_b64encode(p).rstrip(b"=").decode() for p in parts]
    return ".".join([*encoded, base64.urlsafe_b64encode(signature).rstrip(b"=").decode()])
