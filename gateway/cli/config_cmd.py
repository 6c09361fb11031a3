"""``skein config check | schema | import-litellm``: the configuration, before it is deployed.

``check`` validates a config file (plus the ``SKEIN_*`` environment, as ``serve`` would see
it, unless ``--no-env``) and runs the same start-up checks as ``serve``: exit 0 when it would
start, 1 with one line per problem when not, 2 when the file cannot be read. ``schema``
prints the JSON schema editors use (docs/config.schema.json). ``import-litellm`` turns a
LiteLLM proxy config into Skein's ``providers`` and catalog entries: exit 0 when every entry
mapped, 1 when something is listed as not mapped (the rest is still printed).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from gateway.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    add_json_flag,
    fail,
    print_json,
)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    config = commands.add_parser(
        "config", help="check a config file, print its JSON schema, import a LiteLLM config"
    )
    actions = config.add_subparsers(dest="config_command", required=True, metavar="ACTION")

    check = actions.add_parser("check", help="validate a config file and run the start-up checks")
    check.add_argument("file", nargs="?", help="config file (default: --config / $SKEIN_CONFIG)")
    check.add_argument("--no-env", action="store_true", help="ignore SKEIN_* variables: the file alone")
    add_json_flag(check)
    check.set_defaults(handler=_check)

    schema = actions.add_parser("schema", help="print the JSON schema of the config file")
    schema.add_argument("--out", "-o", help="write to this file instead of stdout")
    schema.set_defaults(handler=_schema)

    litellm = actions.add_parser(
        "import-litellm", help="convert a LiteLLM model_list into Skein providers and catalog entries"
    )
    litellm.add_argument("file", help="LiteLLM proxy config (YAML)")
    add_json_flag(litellm)
    litellm.set_defaults(handler=_import_litellm)


def _check(args: argparse.Namespace) -> int:
    from gateway.cli.preflight import errors, preflight, warnings
    from gateway.settings import CONFIG_ENV, SettingsError, load_settings

    name = args.file or args.config or os.environ.get(CONFIG_ENV)
    if not name:
        fail(f"no config file: give FILE, --config or {CONFIG_ENV}", EXIT_USAGE)
    path = Path(name)
    if not path.is_file():
        fail(f"{path}: no such file", EXIT_USAGE)
    environ = {} if args.no_env else os.environ
    problems: list[str] = []
    notes: list[str] = []
    try:
        settings = load_settings(path, {k: v for k, v in environ.items() if k != CONFIG_ENV})
    except SettingsError as exc:
        problems = str(exc).splitlines()
    else:
        findings = preflight(settings, environ)
        problems, notes = errors(findings), warnings(findings)
    if args.json:
        print_json({"file": str(path), "ok": not problems, "errors": problems, "warnings": notes})
    else:
        for line in problems:
            print(f"error: {line}")
        for line in notes:
            print(f"warning: {line}")
        verdict = "has problems" if problems else "is valid"
        print(f"{path} {verdict}" + ("" if args.no_env else " (with the SKEIN_* environment)"))
    return EXIT_FAILED if problems else EXIT_OK


def _schema(args: argparse.Namespace) -> int:
    from gateway.settings import json_schema

    text = json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"
    if args.out:
        try:
            Path(args.out).write_text(text, encoding="utf-8")
        except OSError as exc:
            fail(f"cannot write {args.out}: {exc.strerror}", EXIT_USAGE)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _import_litellm(args: argparse.Namespace) -> int:
    import yaml

    from gateway.cli.litellm_import import import_litellm

    try:
        config = yaml.safe_load(Path(args.file).read_text(encoding="utf-8"))
    except OSError as exc:
        fail(f"cannot read {args.file}: {exc.strerror}", EXIT_USAGE)
    except yaml.YAMLError as exc:
        fail(f"{args.file} is not valid YAML: {' '.join(str(exc).split())}", EXIT_USAGE)
    result = import_litellm(config)
    config_part = {"providers": result.providers, **({"routing": result.routing} if result.routing else {})}
    _validate(config_part, result.catalog())
    if args.json:
        print_json({**config_part, "catalog": result.catalog(), "unmapped": result.unmapped})
    else:
        print(_render(args.file, config_part, result.catalog(), result.unmapped), end="")
    return EXIT_FAILED if result.unmapped else EXIT_OK


def _validate(config: dict[str, Any], catalog: dict[str, Any]) -> None:
    """What the importer wrote must load: a bug here is an internal error, not bad output."""
    from gateway.settings import Settings
    from signing.schema import Catalog

    Settings.model_validate(config)
    if catalog["models"]:
        Catalog.model_validate(catalog)


def _render(source: str, config: dict[str, Any], catalog: dict[str, Any], unmapped: list[str]) -> str:
    import yaml

    def block(value: Any) -> str:
        return yaml.safe_dump(value, sort_keys=False, default_flow_style=False)

    parts = [
        f"# Imported from {source} by `skein config import-litellm`.\n",
        "# 1. Gateway config (skein.yaml): where each provider is and which variable holds its key;\n"
        "#    routing: deployments, retries, fallbacks, breakers (docs/routing.md).\n",
        block(config) if config["providers"] else "# (no providers)\n",
        "---\n# 2. Model catalog: merge into bundles/models.yaml, then rebuild and sign the bundle.\n",
        block(catalog) if catalog["models"] else "# (no models)\n",
    ]
    if unmapped:
        parts.append("# 3. Not mapped (do these by hand):\n")
        parts += [f"#   - {line}\n" for line in unmapped]
    return "".join(parts)
