"""`python -m agentctl.daemon [--tcp PORT]`: run the daemon in the foreground.

Logs go to stderr and to the rotating daemon log. `--background` is what
`lifecycle.start_background` passes: stderr is then the log file already, so
only the rotating handler writes (once).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from logging.handlers import RotatingFileHandler

from agentctl.errors import AgentctlError, DaemonRunningError
from agentctl.paths import Paths, get_paths

from .server import configured_token, serve
from .stream import BUFFER_CAPACITY

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s"


def configure_logging(paths: Paths, *, to_stderr: bool, level: str) -> None:
    paths.state.mkdir(parents=True, exist_ok=True)
    handlers: list[logging.Handler] = [
        RotatingFileHandler(paths.daemon_log, maxBytes=10 * 1024 * 1024, backupCount=3)
    ]
    if to_stderr:
        handlers.append(logging.StreamHandler(sys.stderr))
    formatter = logging.Formatter(LOG_FORMAT)
    for handler in handlers:
        handler.setFormatter(formatter)
    logging.basicConfig(level=level.upper(), handlers=handlers, force=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m agentctl.daemon", description=__doc__)
    parser.add_argument("--tcp", type=int, metavar="PORT", help="also listen on 127.0.0.1:PORT")
    parser.add_argument(
        "--stream-buffer",
        type=int,
        default=BUFFER_CAPACITY,
        metavar="N",
        help="live events buffered per streaming client before it falls back to re-reading the log",
    )
    parser.add_argument("--background", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning"])
    args = parser.parse_args(argv)

    os.umask(0o077)  # everything the daemon writes (log, database, artifacts) is the user's only
    paths = get_paths().ensure()
    configure_logging(paths, to_stderr=not args.background, level=args.log_level)
    try:
        token = configured_token(paths) if args.tcp is not None else None
        asyncio.run(
            serve(paths, tcp_port=args.tcp, token=token, stream_capacity=args.stream_buffer)
        )
    except AgentctlError as exc:
        root = logging.getLogger()
        for handler in list(root.handlers):  # the log file gets the record, stderr one clean line
            if not isinstance(handler, RotatingFileHandler):
                root.removeHandler(handler)
        logging.getLogger("agentctl.daemon").error("cannot start: %s", exc)
        if not args.background:  # in the background stderr is the log file: say it once
            print(f"agentctl daemon: {exc}", file=sys.stderr)
        if args.background and isinstance(exc, DaemonRunningError):
            # Lost the start-up race: the client that spawned it waits for the winner.
            return DaemonRunningError.PROCESS_EXIT
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
