"""A randomized kill -9 soak: the daemon is killed at random moments, again and again.

Sessions (some asking a person before every shell call, some not) append a
line per step to a file in their sandbox and `cat` it at the end; forks are
made while the daemon may die under them, with a client request id. Between
kills the test does only what a person does — approve what is asked — and
two clients start the daemon again at the same moment. Never `resume`, never
`docker rm`: no manual repair. Then it lets the daemon run and asserts:

- no lost event: every event seen after a kill is still there, unchanged,
  after every later kill;
- no gap: each session's seqs are 1..n;
- no repeated side effect: each session's file has each line exactly once;
- every session (and every fork, one per request id) completes;
- nothing is left outside the log: no container of a completed session, no
  checkpoint image the log does not name.

Bounded: `AGENTCTL_SOAK_S` seconds of kills (60 by default; more for a longer
soak), with a seed printed so that a failure can be run again
(`AGENTCTL_SOAK_SEED`).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from agentctl.client import Client
from agentctl.daemon import lifecycle
from agentctl.errors import AgentctlError, DaemonError
from agentctl.paths import Paths, get_paths
from agentctl.protocol import CreateSession, Decide, ForkSession
from store import DuckDBEventStore
from tests.support.daemon import start_racing

from .harness import appending_lines

pytestmark = [pytest.mark.docker, pytest.mark.slow]

SOAK_S = float(os.environ.get("AGENTCTL_SOAK_S", "60"))
SEED = int(os.environ.get("AGENTCTL_SOAK_SEED", str(random.SystemRandom().randrange(1 << 30))))
STEPS = 5
SETTLE_S = 300.0


Log = list[tuple[int, str, str]]


def _snapshot(client: Client) -> dict[str, Log]:
    """Every session's log, as the daemon reads it from the store."""
    return {
        s.id: [(e.seq, e.type, json.dumps(e.data, sort_keys=True)) for e in client.events(s.id)]
        for s in client.sessions()
    }


def _read_store(db: Path) -> dict[str, Log]:
    with DuckDBEventStore(db) as store:
        return {
            sid: [
                (e.seq, e.type, json.dumps(e.data, sort_keys=True)) for e in store.read_stream(sid)
            ]
            for sid in store.streams()
        }


def _kill(paths: Paths) -> None:
    status = lifecycle.status(paths)
    if status is None:
        return
    os.kill(status.pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while Path(f"/proc/{status.pid}").exists() and time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):  # reap it if it is our child
            os.waitpid(status.pid, os.WNOHANG)
        try:  # the process may be reaped between any two of these lines
            state = Path(f"/proc/{status.pid}/stat").read_text()
        except (FileNotFoundError, ProcessLookupError):
            break
        if state.rsplit(")", 1)[1].split()[0] == "Z":
            break
        time.sleep(0.01)


def _approve_all(client: Client) -> None:
    try:
        for approval in client.approvals():
            # decided meanwhile (a conflict), or the daemon died: next round
            with contextlib.suppress(AgentctlError):
                client.decide(approval.id, Decide(decision="approve", approver="soak"))
    except DaemonError:
        pass


def _lines(events: list[tuple[int, str, str]]) -> list[str]:
    for _, type_, data in events:
        d = json.loads(data)
        if type_ == "tool.finished" and d["call_id"] == "cat":
            return str(d["output"]).split()
    raise AssertionError("no `cat` in the session")


@pytest.mark.timeout(SOAK_S + SETTLE_S + 120)
def test_kill_soak_needs_no_manual_repair(
    tmp_path: Path, docker_client: Any, sessions_cleanup: list[str]
) -> None:
    print(f"kill soak: {SOAK_S:g} s, seed {SEED} (AGENTCTL_SOAK_SEED={SEED} repeats it)")
    rng = random.Random(SEED)
    paths = get_paths().ensure()
    db = paths.database
    lifecycle.start_background(paths)
    client = lifecycle.connect(paths)
    made: list[str] = []
    forks: dict[str, str] = {}  # request id -> fork id, as the client was answered

    def create(n: int) -> None:
        for _ in range(n):
            name = f"s{len(made)}"
            policy = rng.choice(["permissive", "default"])
            summary = client.create_session(
                CreateSession(
                    task=f"append lines ({name})",
                    model=f"replay:{appending_lines(tmp_path / f'{name}.jsonl', STEPS)}",
                    policy=policy,
                )
            )
            made.append(summary.id)
            sessions_cleanup.append(summary.id)

    def fork_one() -> None:
        snapshot = _snapshot_live(client, made)
        if not snapshot:
            return
        parent, at = rng.choice(snapshot)
        request_id = f"req_soak_{len(forks)}"
        try:
            summary = lifecycle.connect(paths).fork(
                parent, ForkSession(at=at, request_id=request_id)
            )
        except AgentctlError as exc:
            forks[request_id] = f"error: {exc}"
            return
        forks[request_id] = summary.id
        sessions_cleanup.append(summary.id)

    create(4)
    seen: dict[str, list[tuple[int, str, str]]] = {}
    kills = 0
    deadline = time.monotonic() + SOAK_S
    while time.monotonic() < deadline:
        forking = None
        if rng.random() < 0.3:
            forking = threading.Thread(target=fork_one)
            forking.start()
        if rng.random() < 0.2:
            create(rng.randint(1, 3))  # a burst of sessions
        _approve_all(client)
        time.sleep(rng.uniform(0.05, 1.5))  # the kill lands at a random moment: that is the test
        _kill(paths)
        kills += 1
        pids = start_racing(paths, 2)  # two clients start it at the same moment
        assert len(set(pids)) == 1 and all(isinstance(p, int) for p in pids), pids
        if forking is not None:
            forking.join(120)
            assert not forking.is_alive()
        now = _snapshot(client)
        for sid, events in seen.items():  # nothing that was in the log has gone or changed
            assert now[sid][: len(events)] == events, f"{sid} lost events after kill {kills}"
        seen = now

    # No more kills: let everything finish, approving what is asked, and nothing else.
    settle = time.monotonic() + SETTLE_S
    while True:
        _approve_all(client)
        summaries = {s.id: s for s in client.sessions()}
        if all(s.status.value == "completed" for s in summaries.values()):
            break
        if time.monotonic() > settle:
            stuck = {
                sid: (s.status.value, s.reason)
                for sid, s in summaries.items()
                if s.status.value != "completed"
            }
            raise AssertionError(f"after {kills} kills, sessions need a person: {stuck}")
        time.sleep(0.2)
    lifecycle.stop(paths)
    final = _read_store(db)
    print(f"kill soak: {kills} kills, {len(final)} sessions ({len(forks)} fork requests)")

    for sid, events in seen.items():
        assert final[sid][: len(events)] == events
    for sid, events in final.items():
        assert [seq for seq, _, _ in events] == list(range(1, len(events) + 1)), sid
        assert _lines(events) == [f"line-{i}" for i in range(1, STEPS + 1)], sid
    answered = {v for v in forks.values() if not v.startswith("error")}
    by_request: dict[str, list[str]] = {}
    for sid, events in final.items():
        request_id = json.loads(events[0][2]).get("request_id") or ""
        if request_id.startswith("req_soak_"):
            by_request.setdefault(request_id, []).append(sid)
    assert all(len(sids) == 1 for sids in by_request.values()), by_request  # one fork per request
    assert answered <= {sids[0] for sids in by_request.values()}
    for sid in final:
        label = f"agentctl.stream={sid}"
        assert docker_client.containers.list(all=True, filters={"label": label}) == [], sid
        named = {json.loads(d)["image"] for _, t, d in final[sid] if t == "checkpoint.created"}
        own = {
            tag
            for image in docker_client.images.list(filters={"label": label})
            for tag in image.tags
            if tag.startswith(f"agentctl-checkpoint:{sid.lower()}-")
        }
        assert own <= named, (sid, own - named)


def _snapshot_live(client: Client, made: list[str]) -> list[tuple[str, int]]:
    """(session, seq of a checkpoint) pairs to fork at."""
    points = []
    try:
        for sid in made:
            for event in client.events(sid):
                if event.type == "checkpoint.created":
                    points.append((sid, event.seq))
    except DaemonError:
        return []
    return points
