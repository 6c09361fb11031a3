"""``skein token`` (mint a dev token) and ``skein apikey new`` (create a service-account key).

``skein token`` signs with the same key file the gateway uses in dev mode
(``<state_dir>/dev-signing-key.pem``), so its tokens are accepted by a gateway started with
the same settings. It prints only the token, so ``TOKEN=$(skein token ...)`` works.

A token for a role with no profile in the bundle the settings point at would only ever get
``403 unknown_role``, so ``skein token`` refuses it (exit 2) unless ``--force``: the bundle is
the ``directory`` source tree, or the ``file`` source's bundle (read, not verified: this is a
name check). A ``url`` source is not fetched; the check is skipped with a note.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from gateway.cli import common

if TYPE_CHECKING:
    from gateway.settings import Settings

DEV_MODE_OFF = (
    "dev mode is off, so there is no local key to mint tokens with: set SKEIN_DEV__ENABLED=true "
    "(or dev.enabled in the config file), or get a token from your identity provider"
)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    token = commands.add_parser("token", help="mint a dev token (dev mode only)")
    token.add_argument("--sub", required=True, help="subject (user id)")
    _principal_arguments(token)
    token.add_argument(
        "--ttl", type=int, default=None, help="lifetime in seconds (default: dev.token_ttl_seconds)"
    )
    token.add_argument("--email", default=None)
    token.add_argument("--force", action="store_true", help="mint even for a role with no profile")
    token.set_defaults(handler=mint_token)

    apikey = commands.add_parser("apikey", help="service-account API keys")
    actions = apikey.add_subparsers(dest="apikey_command", required=True, metavar="ACTION")
    new = actions.add_parser("new", help="generate a key and print the config entry to add")
    new.add_argument("--name", required=True, help="a label for the key (shown in config)")
    new.add_argument("--sub", required=True, help="the service account's subject")
    _principal_arguments(new)
    new.set_defaults(handler=new_key)


def _principal_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--role",
        dest="roles",
        metavar="ROLE",
        action="append",
        required=True,
        help="a role (repeat for several)",
    )
    parser.add_argument("--tenant", default=None, help="tenant (default: auth.default_tenant)")


def mint_token(args: argparse.Namespace) -> int:
    settings = common.settings_from(args)
    if not settings.dev.enabled:
        common.fail(DEV_MODE_OFF, common.EXIT_USAGE)
    if args.ttl is not None and args.ttl <= 0:
        common.fail("--ttl must be a positive number of seconds", common.EXIT_USAGE)
    if not args.force:
        _check_roles(settings, args.roles)
    from gateway.auth.devkey import DevKey

    key = DevKey.load_or_create(settings.state_dir, settings.dev)
    tenant = args.tenant or settings.auth.default_tenant
    print(key.mint(args.sub, args.roles, tenant=tenant, ttl=args.ttl, email=args.email))
    return common.EXIT_OK


def _check_roles(settings: Settings, roles: list[str]) -> None:
    known, where = _bundle_roles(settings)
    if known is None:
        print(f"skein: note: roles not checked: {where}", file=sys.stderr)
        return
    missing = [role for role in roles if role not in known]
    if missing:
        common.fail(
            f"no profile for role {', '.join(map(repr, missing))} in {where} (roles: "
            f"{', '.join(sorted(known)) or 'none'}); its calls would get 403 unknown_role. "
            "Use --force to mint the token anyway",
            common.EXIT_USAGE,
        )


def _bundle_roles(settings: Settings) -> tuple[set[str] | None, str]:
    """The roles of the bundle the settings point at, and where they were read."""
    bundle = settings.bundle
    if bundle.source == "directory":
        profiles = bundle.profiles_dir / "profiles"
        if not profiles.is_dir():
            common.fail(
                f"bundle.profiles_dir: {profiles} is not a directory, so the role cannot be checked; "
                "run from the repository root, set bundle.profiles_dir, or use --force",
                common.EXIT_USAGE,
            )
        return {path.stem for path in profiles.glob("*.yaml")}, f"the bundle source {profiles}"
    if bundle.source == "file" and bundle.path is not None:
        from signing import BundleError, bundle_profiles, read_unverified

        try:
            _, profiles_by_role = bundle_profiles(read_unverified(bundle.path.read_bytes()))
        except (OSError, BundleError, ValueError) as exc:
            common.fail(
                f"bundle.path: cannot read roles from {bundle.path} ({exc}); build the bundle first, "
                "or use --force",
                common.EXIT_USAGE,
            )
        return set(profiles_by_role), f"the bundle {bundle.path}"
    return None, f"bundle.source is {bundle.source!r}, which skein token does not fetch"


def new_key(args: argparse.Namespace) -> int:
    import yaml

    from gateway.auth.apikeys import hash_api_key, new_api_key

    settings = common.settings_from(args)
    key = new_api_key()
    entry = {
        "name": args.name,
        "sha256": hash_api_key(key),
        "sub": args.sub,
        "roles": list(args.roles),
        "tenant": args.tenant or settings.auth.default_tenant,
    }
    snippet = yaml.safe_dump({"auth": {"api_keys": [entry]}}, sort_keys=False)
    print(key)
    print()
    print("# The key above is shown once; only its sha256 goes into the config.")
    print("# Add this entry under auth.api_keys:")
    print(snippet, end="")
    return common.EXIT_OK
