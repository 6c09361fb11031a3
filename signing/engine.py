"""What a verified bundle gives the policy engine and the gateway.

``policy_inputs`` turns the bundle into the two things either engine needs: Rego modules
by path and the data document (``{"profiles": ..., "models": ...}``), built from every
``data.json`` at its directory path exactly as OPA mounts it. ``bundle_profiles`` gives the
same data as validated ``RoleProfile`` objects for the gateway's profile stage.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from signing.build import MODELS_DATA, PROFILES_DATA
from signing.canonical import plain_json
from signing.errors import ContentError
from signing.manifest import DATA_FILE, REGO_SUFFIX, data_path
from signing.schema import Catalog, RoleProfile
from signing.verify import VerifiedBundle


@dataclass(frozen=True)
class PolicyInputs:
    revision: str
    digest: str
    modules: Mapping[str, str]  # bundle path -> Rego source
    data: Mapping[str, Any]  # the data document, e.g. data["profiles"]["finance"]


def policy_inputs(bundle: VerifiedBundle) -> PolicyInputs:
    modules: dict[str, str] = {}
    data: dict[str, Any] = {}
    for name in sorted(bundle.files):
        content = bundle.files[name]
        if name.endswith(REGO_SUFFIX):
            modules[name] = _text(name, content)
        elif posixpath.basename(name) == DATA_FILE:
            _insert(data, data_path(name), plain_json(name, content), name)
    return PolicyInputs(bundle.revision, bundle.digest, modules, data)


def bundle_profiles(bundle: VerifiedBundle) -> tuple[Catalog, dict[str, RoleProfile]]:
    """Re-validate the packed profile and catalog data (a bundle may come from elsewhere)."""
    try:
        catalog = Catalog.model_validate(_required(bundle, MODELS_DATA))
        raw = _required(bundle, PROFILES_DATA)
        if not isinstance(raw, dict):
            raise ContentError("must map role names to profiles", file=PROFILES_DATA)
        profiles = {role: RoleProfile.model_validate(body) for role, body in raw.items()}
    except ValueError as exc:
        if isinstance(exc, ContentError):
            raise
        raise ContentError(f"invalid profile data: {exc}", file=PROFILES_DATA) from exc
    for role, profile in profiles.items():
        if profile.role != role:
            raise ContentError(f"key {role!r} holds the profile of {profile.role!r}", file=PROFILES_DATA)
    return catalog, profiles


def _required(bundle: VerifiedBundle, name: str) -> Any:
    if name not in bundle.files:
        raise ContentError("the bundle has no such file", file=name)
    return plain_json(name, bundle.files[name])


def _insert(data: dict[str, Any], path: str, value: Any, name: str) -> None:
    node = data
    keys = path.split("/") if path else []
    for key in keys[:-1]:
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise ContentError(f"data path /{path} conflicts with another data file", file=name)
        node = child
    if not keys:
        if not isinstance(value, dict):
            raise ContentError("a root data.json must hold an object", file=name)
        _merge(data, value, name)
    elif keys[-1] in node:
        raise ContentError(f"data path /{path} is defined twice", file=name)
    else:
        node[keys[-1]] = value


def _merge(target: dict[str, Any], value: Mapping[str, Any], name: str) -> None:
    for key, item in value.items():
        if key in target:
            raise ContentError(f"data key {key!r} is defined twice", file=name)
        target[key] = item


def _text(name: str, content: bytes) -> str:
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ContentError("Rego source is not UTF-8", file=name) from exc


# -- known gaps of the embedded engine -------------------------------------------------------

# OPA builtins that regorus 0.13 (the embedded engine) does not implement: a call is an
# error only when it is evaluated, so a policy using one would compile, load and then fail
# (closed) on the requests that reach it. http.send is implemented as "always undefined",
# which would silently skip the rule that calls it. The list comes from comparing OPA
# 1.20's capabilities with regorus (docs/policy-guide.md, "Known gaps"); a bundle that calls
# one is refused at build and at load, with the builtin named.
UNSUPPORTED_BUILTINS = frozenset(
    {
        "all", "any", "array.flatten", "cast_array", "cast_boolean", "cast_null", "cast_object",
        "cast_set", "cast_string", "crypto.hmac.equal", "crypto.hmac.md5", "crypto.hmac.sha1",
        "crypto.hmac.sha256", "crypto.hmac.sha512", "crypto.md5", "crypto.parse_private_keys",
        "crypto.sha1", "crypto.sha256", "crypto.x509.parse_and_verify_certificates",
        "crypto.x509.parse_and_verify_certificates_with_options",
        "crypto.x509.parse_certificate_request", "crypto.x509.parse_certificates",
        "crypto.x509.parse_keypair", "crypto.x509.parse_rsa_private_key", "graphql.is_valid",
        "graphql.parse", "graphql.parse_and_verify", "graphql.parse_query", "graphql.parse_schema",
        "graphql.schema_is_valid", "http.send", "io.jwt.decode", "io.jwt.decode_verify",
        "io.jwt.encode_sign", "io.jwt.encode_sign_raw", "io.jwt.verify_eddsa", "io.jwt.verify_es256",
        "io.jwt.verify_es384", "io.jwt.verify_es512", "io.jwt.verify_hs256", "io.jwt.verify_hs384",
        "io.jwt.verify_hs512", "io.jwt.verify_ps256", "io.jwt.verify_ps384", "io.jwt.verify_ps512",
        "io.jwt.verify_rs256", "io.jwt.verify_rs384", "io.jwt.verify_rs512",
        "net.cidr_contains_matches", "net.cidr_intersects", "net.cidr_merge", "net.cidr_overlap",
        "net.lookup_ip_addr", "providers.aws.sign_req", "re_match", "regex.globs_match",
        "rego.metadata.chain", "rego.metadata.rule", "rego.parse_module", "set_diff",
        "strings.render_template", "strings.split_n", "uri.is_valid", "uri.parse",
    }
)  # fmt: skip

_CALL = re.compile(
    r"(?<![\w.])("
    + "|".join(re.escape(n) for n in sorted(UNSUPPORTED_BUILTINS, key=len, reverse=True))
    + r")\s*\("
)
_STRING = re.compile(r'"(?:\\.|[^"\\\n])*"|`[^`]*`')


class UnsupportedBuiltin(ContentError):
    reason = "unsupported_builtin"


def check_builtins(modules: Mapping[str, str]) -> None:
    """Refuse a module that calls a builtin the embedded engine does not implement."""
    for name in sorted(modules):
        found = unsupported_calls(modules[name])
        if found:
            builtin, line = found[0]
            raise UnsupportedBuiltin(
                f"line {line} calls {builtin}, which the embedded Rego engine (regorus) does not "
                'implement; see docs/policy-guide.md, "Known gaps"',
                file=name,
            )


def unsupported_calls(source: str) -> list[tuple[str, int]]:
    """``(builtin, line)`` for each call of an unsupported builtin (comments and strings skipped)."""
    found: list[tuple[str, int]] = []
    for number, line in enumerate(source.splitlines(), start=1):
        code = _STRING.sub('""', line).split("#", 1)[0]
        found.extend((match.group(1), number) for match in _CALL.finditer(code))
    return found
