"""Starting, stopping and inspecting the daemon from another process.

`start_background` spawns `python -m agentctl.daemon` in its own session (it
outlives the client that started it), with its output in the daemon log, and
waits until it answers on its socket. If another client started one at the
same moment, the loser exits on the store lock (with `DaemonRunningError`'s
exit code) and the caller waits for the winner to answer, or starts one again
if the winner died before answering: either way the caller gets a daemon.
`stop` sends SIGTERM and waits; SIGKILL comes only after the timeout.

`connect` (and `connect_async`) is how the CLI and the TUI get a client: with
`autostart`, a daemon is started when none answers, and the `Client` it
returns starts it again when a create or a fork loses the connection (the
client itself never starts a process).

This module talks to the daemon only through `agentctl.client` and never
imports the server, so clients can use it without pulling in the runtime.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path

from agentctl.client import AsyncClient, Client
from agentctl.errors import DaemonError, DaemonRunningError
from agentctl.paths import Paths, get_paths
from agentctl.protocol import DaemonStatus

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0


def connect(paths: Paths | None = None, *, autostart: bool = True) -> Client:
    """A client of the daemon on `paths`; with `autostart`, one is started when none answers
    (and again when a create or a fork loses it). Without, a `DaemonError` says none runs."""
    paths = paths or get_paths()
    restart = functools.partial(start_background, paths) if autostart else None
    client = Client(paths.socket, restart=restart)
    try:
        client.health()
    except DaemonError:
        if restart is None:
            client.close()
            raise
        restart()
        client.health()
    return client


async def connect_async(paths: Paths | None = None, *, autostart: bool = True) -> AsyncClient:
    """`connect` for the TUI: an `AsyncClient`, the daemon started (in a thread) if need be."""
    paths = paths or get_paths()
    client = AsyncClient(paths.socket)
    try:
        await client.health()
    except DaemonError:
        if not autostart:
            await client.aclose()
            raise
        await asyncio.to_thread(start_background, paths)
        await client.health()
    return client


def start_background(
    paths: Paths | None = None, *, tcp_port: int | None = None, timeout: float = START_TIMEOUT_S
) -> int:
    """Spawn a detached daemon and wait until it answers; return the pid of the one answering."""
    paths = (paths or get_paths()).ensure()
    running = status(paths)
    if running is not None:
        return running.pid
    command = [sys.executable, "-m", "agentctl.daemon", "--background"]
    if tcp_port is not None:
        command += ["--tcp", str(tcp_port)]
    process = _spawn(command, paths)
    deadline = time.monotonic() + timeout
    with Client(paths.socket, timeout=2.0) as client:
        while True:
            answer = _status(client)
            if answer is not None:
                if answer.pid != process.pid and process.poll() is None:
                    # Another client's daemon won; ours must not take over later,
                    # when that one stops and releases the lock.
                    process.terminate()
                return answer.pid
            code = process.poll()
            lost_race = code == DaemonRunningError.PROCESS_EXIT
            if lost_race and not _lock_holder_alive(paths):
                # The winner died before it answered (killed while recovering): the
                # lock is free again, and nobody else will start one for this caller.
                process = _spawn(command, paths)
                continue
            if code is not None and not lost_race:
                answer = _status(client)  # another client's daemon may have won the lock
                if answer is not None:
                    return answer.pid
                raise DaemonError(
                    f"the daemon exited with code {code} before answering: {_last_line(paths.daemon_log)}",
                    hint=f"see the daemon log {paths.daemon_log}",
                )
            if time.monotonic() > deadline:
                who = (
                    "the daemon that holds the lock"
                    if lost_race
                    else f"the daemon (pid {process.pid})"
                )
                raise DaemonError(
                    f"{who} did not answer on {paths.socket} within {timeout:.0f}s",
                    hint=f"see the daemon log {paths.daemon_log}",
                )
            time.sleep(0.05)


def _spawn(command: list[str], paths: Paths) -> subprocess.Popen[bytes]:
    with paths.daemon_log.open("ab") as log_file:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # no SIGINT from the client's terminal, outlives the client
            close_fds=True,
        )
    # Reap it whenever it exits, so a long-lived client (the TUI) leaves no zombie.
    threading.Thread(target=process.wait, name="agentctl-daemon-reaper", daemon=True).start()
    return process


def _lock_holder_alive(paths: Paths) -> bool:
    """Whether the process whose pid the store lock file holds is alive. The holder
    writes its pid there and empties it on release; a holder that died leaves a dead
    pid (the kernel dropped its flock). A holder that has not written it yet reads as
    gone: the daemon spawned for it then loses the race again, which is harmless."""
    try:
        text = paths.lock.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return False
    if not text.isdigit():
        return False
    try:
        os.kill(int(text), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True


def status(paths: Paths | None = None) -> DaemonStatus | None:
    """The running daemon's status, or None when no daemon answers."""
    paths = paths or get_paths()
    with Client(paths.socket, timeout=5.0) as client:
        return _status(client)


def stop(paths: Paths | None = None, timeout: float = STOP_TIMEOUT_S) -> int | None:
    """Stop the daemon gracefully (SIGTERM, then SIGKILL after `timeout`); its pid, or None if none ran."""
    paths = paths or get_paths()
    pid = _daemon_pid(paths)
    if pid is None:
        return None
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if not _wait_gone(pid, timeout):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        _wait_gone(pid, 5.0)
        # It had no chance to clean up; the next daemon replaces the socket.
        paths.pidfile.unlink(missing_ok=True)
    return pid


def silent_daemon(paths: Paths | None = None) -> int | None:
    """The pid of a daemon that runs but does not answer (its socket removed, or hung)."""
    paths = paths or get_paths()
    if status(paths) is not None:
        return None
    return _daemon_pid(paths)


# --- helpers ------------------------------------------------------------------------


def _status(client: Client) -> DaemonStatus | None:
    try:
        return client.status()
    except DaemonError:
        return None


def _daemon_pid(paths: Paths) -> int | None:
    answer = status(paths)
    if answer is not None:
        return answer.pid
    # Not answering (hung, or still starting): trust the pidfile only if it names a live daemon.
    try:
        pid = int(paths.pidfile.read_text().strip())
    except (OSError, ValueError):
        return None
    if _alive(pid) and _is_daemon(pid):
        return pid
    paths.pidfile.unlink(missing_ok=True)  # left by a daemon that is gone
    return None


def _is_daemon(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return not Path("/proc/self").exists()  # no procfs: trust the pidfile
    except OSError:
        return False
    return b"agentctl.daemon" in cmdline


def _alive(pid: int) -> bool:
    try:
        if os.waitpid(pid, os.WNOHANG) != (0, 0):
            return False  # our child, and it just exited (reaped now)
    except ChildProcessError:
        pass  # not our child
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie still answers kill(0)
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _last_line(log: Path) -> str:
    try:
        with log.open("rb") as f:
            lines = deque((line.strip() for line in f if line.strip()), maxlen=1)
    except OSError:
        return "(no log)"
    return lines[0].decode(errors="replace") if lines else "(the log is empty)"
