"""The built and signed bundle is what OPA expects.

With an ``opa`` binary on PATH the bundle is loaded by OPA itself, signature verification
on. Without one, the format is checked against OPA's documented rules (bundle file format,
``.manifest``, ``.signatures.json``, per-file SHA-256 with canonical JSON for structured
files), computed here independently of ``signing``'s own code so a drift shows up.
"""

from __future__ import annotations

import base64
import hashlib
import json
import posixpath
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from signing import public_pem
from signing.canonical import canonical_bytes, file_digest, go_string, parse_json
from tests.signing.helpers import KeyPair, members_of, repack

OPA = shutil.which("opa")


def _b64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


@pytest.mark.skipif(OPA is None, reason="no opa binary on PATH; the format checks below run instead")
def test_opa_loads_and_verifies_the_bundle(signed_bundle: bytes, es_key: KeyPair, tmp_path: Path) -> None:
    bundle, key = tmp_path / "bundle.tar.gz", tmp_path / "dev.pub.pem"
    bundle.write_bytes(signed_bundle)
    key.write_bytes(public_pem(es_key[1]))
    command = [
        OPA or "opa",
        "eval",
        "--format=raw",
        "-b",
        str(bundle),
        "--verification-key",
        str(key),
        "--verification-key-id",
        "dev",
        "--signing-alg",
        "ES256",
        "data.profiles.finance.role",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "finance"
    bundle.write_bytes(repack(signed_bundle, **{"extra.rego": b"package gateway\nx := 1\n"}))
    refused = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert refused.returncode != 0


def test_members_are_regular_files_rooted_at_slash(signed_bundle: bytes) -> None:
    names = list(members_of(signed_bundle))
    assert names == sorted(names)
    assert all(name.startswith("/") and ".." not in name for name in names)
    assert "/.manifest" in names and "/.signatures.json" in names


def test_manifest_follows_opa_rules(signed_bundle: bytes) -> None:
    members = members_of(signed_bundle)
    manifest = json.loads(members["/.manifest"])
    assert isinstance(manifest["revision"], str) and manifest["revision"]
    roots = manifest["roots"]
    for i, first in enumerate(roots):  # OPA: roots must not overlap
        for second in roots[i + 1 :]:
            assert not (f"{first}/").startswith(f"{second}/") and not (f"{second}/").startswith(f"{first}/")

    def covered(path: str) -> bool:
        return any(path == root or path.startswith(root + "/") for root in roots)

    for name, content in members.items():
        if name.endswith(".rego"):
            package = re.search(rb"^package\s+([\w.]+)", content, re.MULTILINE)
            assert package and covered(package.group(1).decode().replace(".", "/")), name
        elif name.endswith("/data.json"):
            assert covered(posixpath.dirname(name).lstrip("/")), name


def test_signature_payload_shape_and_digests(signed_bundle: bytes) -> None:
    members = members_of(signed_bundle)
    signatures = json.loads(members["/.signatures.json"])
    assert list(signatures) == ["signatures"] and len(signatures["signatures"]) == 1
    header_b64, payload_b64, _ = signatures["signatures"][0].split(".")
    header, payload = json.loads(_b64(header_b64)), json.loads(_b64(payload_b64))
    assert header["alg"] == "ES256" and header["kid"] == "dev"
    assert payload["keyid"] == "dev"
    listed = {entry["name"]: entry for entry in payload["files"]}
    assert set(listed) == {name.lstrip("/") for name in members if name != "/.signatures.json"}
    for name, entry in listed.items():
        assert set(entry) == {"name", "hash", "algorithm"} and entry["algorithm"] == "SHA-256"
        content = members["/" + name]
        if posixpath.basename(name) in ("data.json", ".manifest"):
            # Structured files: Go's json.Marshal of the parsed value (sorted keys, compact,
            # no HTML escaping); our data has no characters that Go escapes differently.
            content = json.dumps(
                json.loads(content), sort_keys=True, separators=(",", ":"), ensure_ascii=False
            ).encode()
        assert entry["hash"] == hashlib.sha256(content).hexdigest(), name


def test_canonical_form_matches_go_encoding() -> None:
    value = parse_json("data.json", b'{"b": [1.0, 1e3, -0, true, null], "a": {"z": "<&>", "y": "\\u2028"}}')
    assert canonical_bytes(value) == b'{"a":{"y":"\\u2028","z":"<&>"},"b":[1.0,1e3,-0,true,null]}'


@pytest.mark.parametrize(
    ("text", "encoded"),
    [
        ("plain", '"plain"'),
        ('q"b\\', '"q\\"b\\\\"'),
        ("\n\t\r", '"\\n\\t\\r"'),
        ("\x01\x1f", '"\\u0001\\u001f"'),
        ("\x7f é ™", '"\x7f é ™"'),
        ("\u2029", '"\\u2029"'),
        ("<a&b>", '"<a&b>"'),
        ("\b\f", '"\\b\\f"'),
    ],
)
def test_strings_escape_like_go(text: str, encoded: str) -> None:
    assert go_string(text) == encoded


def test_number_literals_are_hashed_as_written() -> None:
    # OPA decodes with UseNumber: 1.0 and 1 are different documents to the hash.
    assert file_digest("x/data.json", b'{"n": 1.0}') != file_digest("x/data.json", b'{"n": 1}')
    assert file_digest("x/data.json", b'{"n": 1.0}') == hashlib.sha256(b'{"n":1.0}').hexdigest()


def test_rego_and_other_files_are_hashed_raw() -> None:
    assert file_digest("a.rego", b"package a\n") == hashlib.sha256(b"package a\n").hexdigest()
