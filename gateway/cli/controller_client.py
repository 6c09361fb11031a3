"""What the operator commands for tasks and approvals share: a client of the controller API.

They go through the API (not the database) on purpose: an operator's decision is decided by
policy and audited like anyone's. ``--url`` is the gateway, ``--token`` the operator's bearer
token (``skein token`` in dev mode).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from gateway.cli import common

EXIT_UNAVAILABLE = 3


def client_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", default="http://127.0.0.1:8080", help="the gateway (default: %(default)s)")
    parser.add_argument(
        "--token", required=True, help="a bearer token (e.g. $(skein token --sub ... --role ...))"
    )
    parser.add_argument("--json", action="store_true", help="print the API's JSON answer")


def call(args: argparse.Namespace, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    """The JSON answer, or exit 1 with the API's error (3 when the gateway is unreachable)."""
    import httpx

    headers = {"authorization": f"Bearer {args.token}"}
    try:
        response = httpx.request(method, args.url.rstrip("/") + path, headers=headers, timeout=30, **kwargs)
    except httpx.HTTPError as exc:
        common.fail(f"cannot reach {args.url}: {exc}", EXIT_UNAVAILABLE)
    try:
        body: dict[str, Any] = response.json()
    except ValueError:
        common.fail(f"{method} {path}: HTTP {response.status_code} (not JSON)")
    if response.status_code >= 400:
        error = body.get("error", {})
        common.fail(f"{method} {path}: {response.status_code} {error.get('code')}: {error.get('message')}")
    return body


def show(args: argparse.Namespace, body: dict[str, Any], rows: list[str]) -> int:
    print(json.dumps(body, indent=2) if args.json else "\n".join(rows), file=sys.stdout)
    return common.EXIT_OK
