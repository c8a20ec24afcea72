"""The daemon process: one store, one runtime, HTTP on a Unix socket (and maybe TCP).

Start-up order is what keeps a data directory single-writer:

1. open the store, which takes the flock; a second daemon stops here with a
   message naming the running one's pid and socket;
2. holding the lock, whatever sits at the socket path is a leftover of a
   daemon that died, so it is removed and the socket bound again (mode 0600
   in a 0700 folder), never taken from a live daemon;
3. start the runtime (recovery: running sessions resume), write the pidfile,
   then serve — the sockets listen from step 2, so a client that sees the
   pidfile can talk to us, and one that got an answer finds the pidfile.

Both listeners are uvicorn servers in one asyncio loop, sharing one app; the
TCP one is wrapped in bearer-token auth. The daemon handles SIGTERM/SIGINT
itself: stop accepting, end the live streams, let the runtime reach a durable
point, close the store, remove the socket and the pidfile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount
from starlette.types import ASGIApp

from agentctl import __version__
from agentctl.config import TOKEN_ENV
from agentctl.crashpoints import CrashPoints
from agentctl.errors import DaemonError, DaemonRunningError, UsageError
from agentctl.observe.otel import start_export
from agentctl.paths import Paths
from agentctl.plugins import Plugins, discover
from agentctl.providers.loader import builtin_schemes
from agentctl.runtime import Runtime
from agentctl.tools import BUILTIN_TOOLS
from agentctl.triggers.clock import clock_from_env
from store import DuckDBEventStore, EventStore, LockHeldError, StoredEvent, StoreError

from .context import Daemon
from .peers import PeerAwareH11
from .routes import ROUTES
from .stream import BUFFER_CAPACITY
from .trigger_routes import HookDeliveries
from .web import EXCEPTION_HANDLERS, BearerAuth

log = logging.getLogger("agentctl.daemon")

GRACEFUL_SHUTDOWN_S = 5.0


def create_app(daemon: Daemon, extra_routes: Sequence[BaseRoute] = ()) -> Starlette:
    """The ASGI app: every route under `/v1`, protocol error bodies for every failure."""
    app = Starlette(
        routes=[Mount("/v1", routes=[*ROUTES, *extra_routes])],
        exception_handlers=dict(EXCEPTION_HANDLERS),
    )
    app.state.daemon = daemon
    return app


def configured_token(paths: Paths) -> str | None:
    """The TCP bearer token: `AGENTCTL_TOKEN`, else `[daemon] token` in config.toml."""
    from agentctl.config import load_config

    return load_config(paths.config_file, sections=("daemon",)).daemon.token


# --- sockets ------------------------------------------------------------------------


def bind_unix(path: Path) -> socket.socket:
    """Listen on `path` with mode 0600, in a folder only we can enter.

    Call it only while holding the store lock: any file at `path` is then a
    leftover of a daemon that died, and is replaced.
    """
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    if folder.stat().st_uid == os.getuid():
        folder.chmod(0o700)
    if path.exists() or path.is_symlink():
        if _answers(path):
            raise DaemonError(
                f"something is already listening on {path}, yet the store lock was free",
                hint="is another agentctl with a different data directory using this socket?",
            )
        log.info("removing the stale socket %s left by a daemon that is gone", path)
        path.unlink()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    previous = os.umask(0o177)  # created 0600: no window where others could connect
    try:
        sock.bind(str(path))
    finally:
        os.umask(previous)
    path.chmod(0o600)
    sock.listen(128)
    sock.setblocking(False)
    return sock


def _answers(path: Path) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(0.5)
    try:
        probe.connect(str(path))
    except OSError:
        return False
    else:
        return True
    finally:
        probe.close()


def bind_tcp(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as exc:
        sock.close()
        raise DaemonError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}") from None
    sock.listen(128)
    sock.setblocking(False)
    return sock


def _remove_if_ours(path: Path, inode: int | None) -> None:
    # A daemon started after us (ours having lost its lock) may own the path by now.
    with contextlib.suppress(FileNotFoundError):
        if inode is None or path.stat().st_ino == inode:
            path.unlink()


# --- serving ------------------------------------------------------------------------


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signals to the daemon (two servers share one loop)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _uvicorn(app: ASGIApp) -> _Server:
    config = uvicorn.Config(
        app,
        lifespan="off",  # the daemon opens and closes the store and runtime itself
        log_config=None,  # logging is the daemon's (stderr and the rotating log file)
        access_log=False,
        timeout_graceful_shutdown=int(GRACEFUL_SHUTDOWN_S),
        http=PeerAwareH11,  # h11, with the peer's credentials in each request's state
    )
    return _Server(config)


def open_store(paths: Paths, crash: CrashPoints | None = None) -> EventStore:
    """The daemon's event log: the DuckDB file of the data folder, or PostgreSQL.

    `[store] url` in config.toml (or `AGENTCTL_STORE_URL`) selects PostgreSQL.
    Either way the writer lock next to the DuckDB file keeps one daemon per
    data folder. With DuckDB that lock is what makes the daemon the log's single
    writer; with PostgreSQL it is not: several daemons on one database would
    each refuse the other's stale appends (expected seq), but nothing yet
    decides which daemon owns a session (leases: docs/scale.md).
    """
    from agentctl.config import load_config

    url = load_config(paths.config_file, sections=("store",)).store.url
    hook = crash.mid_batch if crash is not None and crash.armed else None
    try:
        if url is not None:
            return _open_postgres(url, paths, hook)
        return DuckDBEventStore(paths.database, lock=True, before_commit=hook)
    except LockHeldError as exc:
        pid = exc.pid if exc.pid is not None else _pid_from(paths.pidfile)
        holder = f"pid {pid}" if pid is not None else "another process"
        raise DaemonRunningError(
            f"an agentctl daemon is already running for {paths.data} ({holder}, socket {paths.socket})",
            hint="use it, or stop it with `agentctl daemon stop`",
        ) from None


def _open_postgres(
    url: str, paths: Paths, hook: Callable[[Sequence[StoredEvent]], None] | None
) -> EventStore:
    try:
        from store.postgres_store import PostgresEventStore
    except ImportError as exc:
        raise DaemonError(
            f"[store] url is PostgreSQL, but psycopg is not installed ({exc})",
            hint="pip install 'agentctl[postgres]'",
        ) from None
    try:
        return PostgresEventStore(url, before_commit=hook, lock=f"{paths.database}.lock")
    except LockHeldError:
        raise
    except StoreError as exc:
        raise DaemonError(str(exc), hint="check [store] url in config.toml") from None


def _pid_from(pidfile: Path) -> int | None:
    try:
        return int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return None


def load_plugins() -> Plugins:
    """The installed plugins' tools and providers (`agentctl.plugins`), found once."""
    plugins = discover([t.name for t in BUILTIN_TOOLS], builtin_schemes())
    for (group, name), ref in sorted(plugins.origins.items()):
        log.info("plugin: %s %s from %s %s", group, name, ref.distribution, ref.version)
    return plugins


async def serve(
    paths: Paths,
    *,
    tcp_port: int | None = None,
    token: str | None = None,
    crash: CrashPoints | None = None,
    stream_capacity: int = BUFFER_CAPACITY,
) -> None:
    """Run the daemon until SIGTERM/SIGINT. Raises DaemonError when it cannot start."""
    paths.ensure()
    if tcp_port is not None and not token:
        raise UsageError(
            "a TCP listener needs a bearer token",
            hint=f"set {TOKEN_ENV} or `token` in the [daemon] section of {paths.config_file}",
        )
    crash = crash if crash is not None else CrashPoints()
    store = open_store(paths, crash)  # the single-writer lock: first, before touching anything
    socket_inode: int | None = None
    try:
        unix_sock = bind_unix(paths.socket)
        socket_inode = paths.socket.stat().st_ino
        tcp_sock = bind_tcp(tcp_port) if tcp_port is not None else None
        runtime = Runtime(
            store, paths=paths, crash=crash, clock=clock_from_env(), plugins=load_plugins()
        )
        tcp = f"127.0.0.1:{tcp_sock.getsockname()[1]}" if tcp_sock is not None else None
        daemon = Daemon(
            paths=paths, store=store, runtime=runtime, tcp=tcp, stream_capacity=stream_capacity
        )
        otel = start_export(paths, store)  # OpenTelemetry, when configured; else a no-op
        await runtime.start()
        try:
            await _serve(daemon, unix_sock, tcp_sock, token)
        finally:
            log.info("stopping the runtime")
            await runtime.stop()
            otel.close()  # the sessions that ended are exported before the store closes
    finally:
        store.close()
        _remove_if_ours(paths.socket, socket_inode)
        with contextlib.suppress(FileNotFoundError):
            if _pid_from(paths.pidfile) == os.getpid():
                paths.pidfile.unlink()
        log.info("agentctl daemon %d stopped", os.getpid())


async def _serve(
    daemon: Daemon, unix_sock: socket.socket, tcp_sock: socket.socket | None, token: str | None
) -> None:
    app = create_app(daemon)
    servers: list[tuple[_Server, socket.socket]] = [(_uvicorn(app), unix_sock)]
    if tcp_sock is not None:
        assert token
        servers.append((_uvicorn(HookDeliveries(BearerAuth(app, token), app)), tcp_sock))

    loop = asyncio.get_running_loop()

    def request_stop(signum: int) -> None:
        name = signal.Signals(signum).name
        if daemon.stopping.is_set():
            log.warning("%s again: closing connections without waiting", name)
            for server, _ in servers:
                server.force_exit = True
            return
        log.info("%s received: shutting down", name)
        daemon.stopping.set()  # ends the live streams, so connections can close
        for server, _ in servers:
            server.should_exit = True

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, request_stop, signum)
    # The sockets listen already (connections wait in their backlog until the servers
    # accept), so a client that finds the pidfile can talk to us; written before the
    # first answer, a client that got one finds the pidfile too.
    daemon.paths.pidfile.write_text(f"{os.getpid()}\n")
    # Said before the first answer, for the same reason: the log never lags a client.
    log.info(
        "agentctl daemon %s (pid %d) listening on %s%s",
        __version__,
        os.getpid(),
        daemon.paths.socket,
        f" and http://{daemon.tcp}" if daemon.tcp else "",
    )
    tasks = [asyncio.create_task(server.serve(sockets=[sock])) for server, sock in servers]
    try:
        await asyncio.gather(*tasks)
    finally:
        # One listener failing takes the other down with it.
        daemon.stopping.set()
        for server, _ in servers:
            server.should_exit = True
        await asyncio.gather(*tasks, return_exceptions=True)
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
