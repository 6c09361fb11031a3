"""``skein bundle build | sign | verify | inspect``: the signed-bundle workflow for CI.

Exit codes: 0 ok; 1 the bundle or its sources failed a rule (the message starts with the
rule's reason code in brackets and names the file); 2 usage or configuration errors
(bad arguments, unreadable files, unusable keys).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn, TypeVar

from gateway.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, add_json_flag, fail, print_json
from signing import (
    ALGORITHMS,
    BundleError,
    KeyFileError,
    PublicKey,
    SchemaError,
    SigstorePolicy,
    VerifiedBundle,
    VerifyOptions,
    build_bundle,
    git_metadata,
    key_id,
    load_private_key,
    load_public_key,
    read_unverified,
    sign_bundle,
    verify,
    verify_sigstore,
)
from signing.summary import BundleSummary, summarize

_T = TypeVar("_T")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    bundle = commands.add_parser("bundle", help="build, sign, verify and inspect policy bundles")
    actions = bundle.add_subparsers(dest="bundle_command", required=True, metavar="ACTION")

    build = actions.add_parser("build", help="pack policies and validated profiles into a bundle")
    build.add_argument("--policies", default="policies", help="directory of .rego files (policies)")
    build.add_argument("--data", default="bundles", help="directory with models.yaml and profiles/ (bundles)")
    build.add_argument("--out", default="dist/bundle.tar.gz", help="output file (dist/bundle.tar.gz)")
    build.add_argument("--revision", help="manifest revision (default: a digest of the content)")
    build.add_argument("--no-git", action="store_true", help="do not record the git commit in the manifest")
    add_json_flag(build)
    build.set_defaults(handler=_build)

    sign = actions.add_parser("sign", help="add .signatures.json to a bundle")
    sign.add_argument("bundle")
    sign.add_argument("--key", required=True, help="private key PEM")
    sign.add_argument("--kid", help="key id (default: derived from the key)")
    sign.add_argument("--scope", help="scope claim the verifier must expect")
    sign.add_argument("--out", help="write here instead of signing in place")
    add_json_flag(sign)
    sign.set_defaults(handler=_sign)

    check = actions.add_parser("verify", help="verify a bundle; exit 1 names the failed rule")
    check.add_argument("bundle")
    check.add_argument("--pubkey", action="append", default=[], help="trusted public key PEM (repeatable)")
    check.add_argument("--kid", action="append", default=[], help="kid for each --pubkey, in order")
    check.add_argument("--scope", help="expected signature scope")
    check.add_argument("--alg", action="append", choices=ALGORITHMS, help="allowed algorithm (default: all)")
    check.add_argument("--sigstore-bundle", help="detached Sigstore bundle for the bundle file")
    check.add_argument("--identity", help="expected Sigstore certificate identity (SAN)")
    check.add_argument("--issuer", help="expected OIDC issuer of the Sigstore identity")
    check.add_argument("--repository", help="expected GitHub repository (owner/name)")
    check.add_argument("--staging", action="store_true", help="use Sigstore's staging trust root")
    check.add_argument("--trusted-root", help="Sigstore trusted_root.json (default: the embedded one)")
    add_json_flag(check)
    check.set_defaults(handler=_verify)

    inspect = actions.add_parser("inspect", help="show revision, roots, files, signer, roles, packages")
    inspect.add_argument("bundle")
    add_json_flag(inspect)
    inspect.set_defaults(handler=_inspect)


def _build(args: argparse.Namespace) -> int:
    policies, data = Path(args.policies), Path(args.data)
    for directory in (policies, data):
        if not directory.is_dir():
            fail(f"{directory} is not a directory", EXIT_USAGE)
    metadata = {} if args.no_git else git_metadata(policies, data)
    try:
        raw = build_bundle(policies, data, revision=args.revision, metadata=metadata)
    except (BundleError, SchemaError) as exc:
        _rule_failed("build failed", exc)
    out = Path(args.out)
    _write(out, raw)
    bundle = read_unverified(raw)
    if args.json:
        built = {"out": str(out), "revision": bundle.revision, "files": len(bundle.files)}
        print_json({**built, "digest": bundle.digest, "metadata": metadata})
    else:
        print(f"built {out}: revision={bundle.revision} files={len(bundle.files)} {bundle.digest}")
    return EXIT_OK


def _sign(args: argparse.Namespace) -> int:
    raw = _read(args.bundle)
    pem = _read(args.key)
    key = _load(lambda: load_private_key(pem, source=args.key))
    try:
        signed = sign_bundle(raw, key, args.kid, scope=args.scope)
    except BundleError as exc:
        _rule_failed("cannot sign", exc)
    out = Path(args.out or args.bundle)
    _write(out, signed)
    kid = args.kid or key_id(key.public_key())
    digest = read_unverified(signed).digest
    if args.json:
        print_json({"out": str(out), "kid": kid, "digest": digest})
    else:
        print(f"signed {out}: kid={kid} {digest}")
    return EXIT_OK


def _verify(args: argparse.Namespace) -> int:
    if not args.pubkey and not args.sigstore_bundle:
        fail("nothing to verify against: give --pubkey and/or --sigstore-bundle", EXIT_USAGE)
    raw = _read(args.bundle)
    results: list[VerifiedBundle] = []
    try:
        if args.pubkey:
            options = VerifyOptions(allowed_algorithms=tuple(args.alg or ALGORITHMS), scope=args.scope)
            results.append(verify(raw, _trusted_keys(args), options))
        if args.sigstore_bundle:
            results.append(verify_sigstore(raw, _read(args.sigstore_bundle), _sigstore_policy(args)))
    except BundleError as exc:
        if args.json:
            print_json({"ok": False, "bundle": args.bundle, "reason": exc.reason, "error": str(exc)})
            return EXIT_FAILED
        _rule_failed("verification failed", exc)
    bundle = results[0]
    if args.json:
        signers = [r.signer for r in results if r.signer is not None]
        print_json(
            {
                "ok": True,
                "bundle": args.bundle,
                "revision": bundle.revision,
                "digest": bundle.digest,
                "signers": [{"method": s.method, "kid": s.kid, "alg": s.algorithm} for s in signers],
            }
        )
        return EXIT_OK
    for result in results:
        signer = result.signer
        assert signer is not None  # verify() and verify_sigstore() always set it
        print(
            f"verified {args.bundle}: revision={bundle.revision} {bundle.digest} "
            f"signer={signer.method} kid={signer.kid} alg={signer.algorithm}"
        )
    return EXIT_OK


def _inspect(args: argparse.Namespace) -> int:
    try:
        summary = summarize(read_unverified(_read(args.bundle)))
    except BundleError as exc:
        _rule_failed("cannot inspect", exc)
    if args.json:
        print_json(summary.to_json())
    else:
        print(_render(summary))
    return EXIT_OK


def _render(summary: BundleSummary) -> str:
    lines = [
        f"revision: {summary.revision}",
        f"digest:   {summary.digest}",
        f"roots:    {list(summary.roots)}",
    ]
    lines += [f"metadata: {json.dumps(summary.metadata, sort_keys=True)}"] if summary.metadata else []
    if summary.signer is None:
        lines.append("signer:   none (unsigned)")
    else:
        details = " ".join(f"{k}={v}" for k, v in summary.signer.items())
        lines.append(f"signer:   {details} (NOT verified: run `skein bundle verify`)")
    lines.append("files:")
    lines += [f"  {f.size:>8}  {f.sha256}  {f.name}" for f in summary.files]
    lines.append("roles:")
    lines += [
        f"  {r.role}: allowed={list(r.allowed_models)} default={r.default_model}" for r in summary.roles
    ]
    lines.append(f"packages: {', '.join(summary.packages)}")
    return "\n".join(lines)


def _trusted_keys(args: argparse.Namespace) -> dict[str, PublicKey]:
    if args.kid and len(args.kid) != len(args.pubkey):
        fail("give one --kid per --pubkey, or none to derive them", EXIT_USAGE)
    keys: dict[str, PublicKey] = {}
    for index, path in enumerate(args.pubkey):
        pem = _read(path)
        key = _load(lambda: load_public_key(pem, source=path))  # noqa: B023 (called at once)
        keys[args.kid[index] if args.kid else key_id(key)] = key
    return keys


def _sigstore_policy(args: argparse.Namespace) -> SigstorePolicy:
    if not args.identity or not args.issuer:
        fail("--sigstore-bundle needs --identity and --issuer", EXIT_USAGE)
    root = Path(args.trusted_root) if args.trusted_root else None
    if args.staging:
        return SigstorePolicy(args.identity, args.issuer, args.repository, "staging", root)
    return SigstorePolicy(args.identity, args.issuer, args.repository, "production", root)


def _load(loader: Callable[[], _T]) -> _T:
    try:
        return loader()
    except KeyFileError as exc:
        fail(str(exc), EXIT_USAGE)


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror}", EXIT_USAGE)


def _write(path: Path, content: bytes) -> None:
    """Write atomically, so a reader polling the path never sees half a bundle."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(handle, "wb") as out:
            out.write(content)
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except OSError as exc:
        fail(f"cannot write {path}: {exc.strerror}", EXIT_USAGE)


def _rule_failed(what: str, exc: Exception) -> NoReturn:
    fail(f"{what}: {exc}", EXIT_FAILED)
