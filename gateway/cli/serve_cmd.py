"""``skein serve``: run the gateway (uvicorn with uvloop and httptools)."""

from __future__ import annotations

import argparse
import sys

import uvicorn

from gateway import logs
from gateway.app import create_app
from gateway.cli.common import EXIT_OK, settings_from
from gateway.http.server import ServerLimits, protocol_for, warn_if_over_file_limit


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("serve", help="run the gateway")
    parser.add_argument("--host", help="listen address (default: server.host)")
    parser.add_argument("--port", type=int, help="listen port (default: server.port)")
    parser.set_defaults(handler=serve)


def serve(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    logs.configure(settings.log_level)
    # A helper thread doing Python work (JWKS refresh, guard threads) keeps the GIL for up to
    # the switch interval while the event loop waits; 5 ms by default shows up directly as
    # latency on every request in flight, so switch sooner.
    sys.setswitchinterval(0.001)
    host = args.host or settings.server.host
    port = args.port if args.port is not None else settings.server.port
    limits = ServerLimits.from_settings(settings.server)
    warn_if_over_file_limit(limits)
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        loop="uvloop",
        http=protocol_for(limits),  # httptools, plus header/body/idle timeouts and size limits
        ws="none",  # no WebSocket routes: an Upgrade request is served as plain HTTP
        access_log=settings.server.access_log,
        log_config=None,  # keep our JSON logging
        timeout_graceful_shutdown=30,
        server_header=False,
    )
    return EXIT_OK
