"""``skein serve``: run the gateway (uvicorn with uvloop and httptools).

Start-up either serves or ends with one line on stderr that names the key or file and what
to do: configuration and set-up mistakes exit 2 (the preflight checks, then whatever the
app's lifespan raises as a ``SettingsError``), a dependency that cannot be reached at
start-up (Postgres, Redis, Vault) exits 3. Tracebacks only with ``skein --debug serve``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from typing import Any

from gateway.cli.common import EXIT_OK, EXIT_UNAVAILABLE, EXIT_USAGE, fail, print_error, settings_from

log = logging.getLogger("skein.serve")

Scope = dict[str, Any]


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("serve", help="run the gateway")
    parser.add_argument("--host", help="listen address (default: server.host)")
    parser.add_argument("--port", type=int, help="listen port (default: server.port)")
    parser.set_defaults(handler=serve)


def serve(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    server = settings.server.model_copy(
        update={
            "host": args.host or settings.server.host,
            "port": args.port if args.port is not None else settings.server.port,
        }
    )
    settings = settings.model_copy(update={"server": server})

    from gateway import logs
    from gateway.cli.preflight import errors, preflight, warnings

    findings = preflight(settings, os.environ, listen=True)
    if errors(findings):
        fail("\n".join(errors(findings)), EXIT_USAGE)
    logs.configure(settings.log_level)
    for message in warnings(findings):
        log.warning(message)

    import uvicorn

    from gateway.app import create_app

    # A helper thread doing Python work (JWKS refresh, guard threads) keeps the GIL for up to
    # the switch interval while the event loop waits; 5 ms by default shows up directly as
    # latency on every request in flight, so switch sooner.
    sys.setswitchinterval(0.001)
    from gateway.http.server import Refusals, ServerLimits, protocol_for, warn_if_over_file_limit

    limits, refusals = ServerLimits.from_settings(settings.server), Refusals()
    warn_if_over_file_limit(limits)
    watch = StartupWatch(create_app(settings, refusals=refusals))
    config = uvicorn.Config(
        watch,
        host=server.host,
        port=server.port,
        loop="uvloop",
        http=protocol_for(limits, refusals),  # httptools, plus header/body/idle timeouts and size limits
        ws="none",  # no WebSocket routes: an Upgrade request is served as plain HTTP
        lifespan="on",
        access_log=settings.server.access_log,
        log_config=None,  # keep our JSON logging
        timeout_graceful_shutdown=30,
        server_header=False,
    )
    try:
        uvicorn.Server(config).run()
    except SystemExit:
        if watch.failure is None:
            raise
    if watch.failure is not None:
        return _startup_failed(watch.failure, debug=args.debug)
    return EXIT_OK


def _startup_failed(exc: BaseException, *, debug: bool) -> int:
    from gateway.settings import SettingsError

    if debug:
        traceback.print_exception(exc)
    if isinstance(exc, SettingsError):
        print_error(str(exc))
        return EXIT_USAGE
    hint = "" if debug else " (run `skein --debug serve` for the traceback)"
    print_error(f"cannot start: {type(exc).__name__}: {' '.join(str(exc).split())}{hint}")
    return EXIT_UNAVAILABLE


class StartupWatch:
    """Wraps the app to catch what its lifespan raised at start-up.

    Starlette reports a failed start-up to uvicorn with the formatted traceback as the
    message, which uvicorn logs: the wrapper keeps the exception for ``serve`` to turn into
    one line and an exit code, and hands uvicorn the failure without the traceback text."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.started = False
        self.failure: BaseException | None = None

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return

        async def quiet_send(message: dict[str, Any]) -> None:
            if message["type"] == "lifespan.startup.complete":
                self.started = True
            elif message["type"] == "lifespan.startup.failed":
                message = {**message, "message": ""}
            await send(message)

        try:
            await self.app(scope, receive, quiet_send)
        except BaseException as exc:
            if not self.started:
                self.failure = exc
            raise
