"""Builtins the embedded engine lacks: a bundle that calls one is refused by name.

Kept apart from the bundle format (``build``/``engine``), which both use it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from signing.errors import ContentError

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
