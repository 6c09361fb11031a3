"""``skein keys``: make and identify bundle-signing keys.

``generate`` writes ``<out>.pem`` (private, mode 0600, never overwritten without ``--force``)
and ``<out>.pub.pem`` and prints the kid derived from the public key (an RFC 7638
thumbprint), which ``bundle sign``/``verify`` use when ``--kid`` is not given.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from gateway.cli.common import EXIT_OK, EXIT_USAGE, add_json_flag, fail, print_json
from signing import ALGORITHMS, BundleError, generate_key, key_id, load_public_key


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = commands.add_parser("keys", help="generate bundle-signing keys")
    actions = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")

    generate = actions.add_parser("generate", help="write a new private and public PEM")
    generate.add_argument("--alg", choices=ALGORITHMS, default="ES256", help="signing algorithm (ES256)")
    generate.add_argument("--out", required=True, help="path prefix: writes OUT.pem and OUT.pub.pem")
    generate.add_argument("--force", action="store_true", help="overwrite existing key files")
    add_json_flag(generate)
    generate.set_defaults(handler=_generate)

    kid = actions.add_parser("kid", help="print the kid derived from a public key")
    kid.add_argument("pubkey", help="public key PEM")
    add_json_flag(kid)
    kid.set_defaults(handler=_kid)


def key_paths(out: str) -> tuple[Path, Path]:
    prefix = out.removesuffix(".pem")
    return Path(prefix + ".pem"), Path(prefix + ".pub.pem")


def _generate(args: argparse.Namespace) -> int:
    private_path, public_path = key_paths(args.out)
    for path in (private_path, public_path):
        if path.exists() and not args.force:
            fail(f"{path} exists (use --force to replace it)", EXIT_USAGE)
    private_pem, public_pem = generate_key(args.alg)
    try:
        private_path.parent.mkdir(parents=True, exist_ok=True)
        _write_private(private_path, private_pem)
        public_path.write_bytes(public_pem)
    except OSError as exc:
        fail(f"cannot write keys: {exc}", EXIT_USAGE)
    kid = key_id(load_public_key(public_pem))
    if args.json:
        print_json({"private": str(private_path), "public": str(public_path), "alg": args.alg, "kid": kid})
    else:
        print(f"wrote {private_path} (private, 0600) and {public_path}; alg={args.alg} kid={kid}")
    return EXIT_OK


def _write_private(path: Path, pem: bytes) -> None:
    # Created 0600 from the start (no window where the key is world-readable).
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)


def _kid(args: argparse.Namespace) -> int:
    try:
        key = load_public_key(Path(args.pubkey).read_bytes(), source=args.pubkey)
    except OSError as exc:
        fail(f"cannot read {args.pubkey}: {exc.strerror}", EXIT_USAGE)
    except BundleError as exc:
        fail(str(exc), EXIT_USAGE)
    if args.json:
        print_json({"pubkey": args.pubkey, "kid": key_id(key)})
    else:
        print(key_id(key))
    return EXIT_OK
