"""Two clients starting the daemon at once: the one that loses connects to the winner.

The race's loser spawns a daemon that finds the store lock taken and exits
(with `DaemonRunningError.PROCESS_EXIT`) while the winner is still starting —
recovering its sessions, not yet answering. The loser must wait for the
winner instead of failing with "an agentctl daemon is already running", and
start one again if the winner dies before it answers.
Here the test itself holds the lock for the winner, so the window is as wide
as the test wants it to be.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from agentctl.client import Client
from agentctl.daemon import lifecycle
from agentctl.paths import Paths
from agentctl.protocol import CreateSession
from store import DuckDBEventStore
from tests.support.daemon import Response, reply, start_racing


def _wait_for(condition: Callable[[], object], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.02)


def test_the_client_that_loses_the_start_race_waits_for_the_winner_or_starts_again(
    paths: Paths,
) -> None:
    holder = DuckDBEventStore(paths.database, lock=True)  # the winner, not answering yet
    outcome: dict[str, object] = {}

    def start() -> None:
        try:
            outcome["pid"] = lifecycle.start_background(paths, timeout=60)
        except Exception as exc:
            outcome["error"] = exc

    loser = threading.Thread(target=start)
    loser.start()
    # The daemon the loser spawned has found the lock taken and exited ...
    _wait_for(
        lambda: paths.daemon_log.exists() and "already running" in paths.daemon_log.read_text()
    )
    # ... and the loser goes on waiting (it used to fail within its next 50 ms poll).
    loser.join(3.0)
    assert loser.is_alive(), outcome
    # The winner dies before it ever answers (killed while recovering): the lock is free
    # and no one else starts a daemon for this client, so it starts one again (it used
    # to wait out its timeout and fail with "the daemon that holds the lock did not answer").
    holder.close()
    loser.join(60)
    try:
        assert isinstance(outcome.get("pid"), int), outcome
        with Client(paths.socket) as client:
            assert client.status().pid == outcome["pid"]
    finally:
        lifecycle.stop(paths)


def test_many_clients_starting_at_once_all_get_the_same_daemon(paths: Paths) -> None:
    try:
        pids = start_racing(paths, 4)
        assert len(pids) == 4 and all(isinstance(p, int) for p in pids), pids
        assert len(set(pids)) == 1
    finally:
        lifecycle.stop(paths)


def test_a_create_cut_off_by_a_daemon_crash_is_retried_and_finds_its_session(
    paths: Paths, monkeypatch: pytest.MonkeyPatch, recording: Callable[[list[Response]], str]
) -> None:
    # The daemon dies right after the new session is durable, before it answers.
    monkeypatch.setenv("AGENTCTL_CRASH_AT", "after:session.created:1")
    client = lifecycle.connect(paths)
    first_pid = client.status().pid
    summary = client.create_session(
        CreateSession(task="t", model=recording([reply("done")]), image="none")
    )
    # The client started a daemon again and sent the same request id: no second session.
    assert client.status().pid != first_pid
    assert [s.id for s in client.sessions()] == [summary.id]
    client.close()
