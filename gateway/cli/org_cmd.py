"""``skein org import FILE``: load the org chart (CSV) into the controller store.

Run by an operator on the gateway's database, like ``skein db migrate`` (the same settings
say which database: SQLite in ``state_dir`` or the Postgres schema). The file is checked whole
first (cycles, dangling managers, duplicates: every problem with its line) and replaces the
tenant's chart in one transaction. Over the API, admins use ``POST /api/v1/org/import``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from gateway.cli import common


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    org = commands.add_parser("org", help="the org chart the controller resolves approvers with")
    actions = org.add_subparsers(dest="org_command", required=True, metavar="ACTION")
    load = actions.add_parser("import", help="replace a tenant's org chart with a CSV file")
    load.add_argument("file", type=Path, help="CSV: user_id,reports_to_id,name,role,email,department")
    load.add_argument("--tenant", default=None, help="tenant (default: auth.default_tenant)")
    load.add_argument("--dry-run", action="store_true", help="check the file, store nothing")
    load.set_defaults(handler=import_org)


def import_org(args: argparse.Namespace) -> int:
    from gateway.controller.orgchart import OrgChartError, parse_org_chart
    from gateway.db.controller import ControllerStoreError
    from gateway.db.stores import controller_store_from_settings

    settings = common.settings_from(args)
    tenant = args.tenant or settings.auth.default_tenant
    try:
        text = args.file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        common.fail(f"cannot read {args.file}: {exc}", common.EXIT_USAGE)
    try:
        people = parse_org_chart(text, tenant)
    except OrgChartError as exc:
        for problem in exc.problems:
            print(f"{args.file}: {problem}", file=sys.stderr)
        common.fail(f"{args.file}: {len(exc.problems)} problem(s); nothing was imported")
    if args.dry_run:
        print(f"{args.file}: {len(people)} people, valid (dry run: nothing stored)")
        return common.EXIT_OK

    async def store() -> int:
        controller = controller_store_from_settings(settings)
        await controller.open()
        try:
            return await controller.replace_people(tenant, people)
        finally:
            await controller.close()

    try:
        count = asyncio.run(store())
    except ControllerStoreError as exc:
        common.fail(str(exc), 3)
    print(f"imported {count} people into tenant {tenant}")
    return common.EXIT_OK
