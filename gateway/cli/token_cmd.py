"""``skein token`` (mint a dev token) and ``skein apikey new`` (create a service-account key).

``skein token`` signs with the same key file the gateway uses in dev mode
(``<state_dir>/dev-signing-key.pem``), so its tokens are accepted by a gateway started with
the same settings. It prints only the token, so ``TOKEN=$(skein token ...)`` works.
"""

from __future__ import annotations

import argparse

import yaml

from gateway.auth.apikeys import hash_api_key, new_api_key
from gateway.auth.devkey import DevKey
from gateway.cli import common

DEV_MODE_OFF = (
    "dev mode is off, so there is no local signing key to mint tokens with.\n"
    "  Turn it on with `dev: {enabled: true}` in the config file or SKEIN_DEV__ENABLED=true,\n"
    "  or get a token from your identity provider."
)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    token = commands.add_parser("token", help="mint a dev token (dev mode only)")
    token.add_argument("--sub", required=True, help="subject (user id)")
    _principal_arguments(token)
    token.add_argument(
        "--ttl", type=int, default=None, help="lifetime in seconds (default: dev.token_ttl_seconds)"
    )
    token.add_argument("--email", default=None)
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
    key = DevKey.load_or_create(settings.state_dir, settings.dev)
    tenant = args.tenant or settings.auth.default_tenant
    print(key.mint(args.sub, args.roles, tenant=tenant, ttl=args.ttl, email=args.email))
    return common.EXIT_OK


def new_key(args: argparse.Namespace) -> int:
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
