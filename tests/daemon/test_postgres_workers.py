"""Several real daemons on one real PostgreSQL log: leases, spreading, takeover, decisions."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agentctl.protocol import CreateSession, Decide, Envelope
from store.postgres_store import PostgresEventStore
from tests.daemon.test_delegate_durable import agents, children, pending_approvals, results
from tests.providers.fake_server import FakeModelServer, Reply, openai_chunks
from tests.support.daemon import Response, reads, reply, wait_status
from tests.support.postgres import PostgresServer
from tests.support.workers import Spawn, workers

Recording = Callable[[list[Response]], str]
LEASE_S = 3.0


@pytest.fixture
def worker(tmp_path: Path, postgres_server: PostgresServer) -> Iterator[Spawn]:
    """Start a daemon on a home of its own (`name`) with the shared store URL."""
    with workers(tmp_path, LEASE_S) as spawn:
        yield spawn


def _owners(url: str) -> list[tuple[str, str, str | None, int]]:
    with PostgresEventStore(url) as store:
        return store.lease_table(LEASE_S).history()


def _assert_no_call_repeated(events: list[Envelope]) -> set[object]:
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    finished: set[object] = set()
    for event in events:
        call = event.data.get("call_id")
        if event.type == "tool.started":
            assert call not in finished, f"completed call {call} started again at {event.seq}"
        elif event.type == "tool.finished":
            assert call not in finished, f"call {call} finished twice"
            finished.add(call)
    return finished


@pytest.mark.parametrize("n", [2, 3])
def test_workers_spread_30_sessions_and_each_has_one_owner(
    worker: Spawn, recording: Recording, postgres_server: PostgresServer, n: int
) -> None:
    url = postgres_server.new_database()
    spawned = [worker(name, url) for name in "abc"[:n]]
    clients = [client for _, client in spawned]
    created = [  # through every worker in turn: any of them takes a new session
        clients[i % n]
        .create_session(
            CreateSession(task=f"t{i}", model=recording([*reads(3), reply("done")]), image="none")
        )
        .id
        for i in range(30)
    ]
    for sid in created:
        for client in clients:  # every daemon answers from the shared log
            wait_status(client, sid, "completed")
    for sid in created:
        assert len(_assert_no_call_repeated(list(clients[-1].events(sid)))) == 3
    history = _owners(url)
    by_session: dict[str, list[str]] = {}
    for session, who, previous, _ in history:
        by_session.setdefault(session, []).append(who)
        assert previous is None  # nobody took a session from anybody
    assert sorted(by_session) == sorted(created)
    assert all(len(owners) == 1 for owners in by_session.values()), by_session
    counts: dict[str, int] = {}
    for [owner] in by_session.values():
        counts[owner] = counts.get(owner, 0) + 1
    assert {w.split(":")[1] for w in counts} == {str(p.pid) for p, _ in spawned}, counts
    assert min(counts.values()) >= 30 // (2 * n), counts  # spread over every worker
    # ended sessions let go of their leases
    with PostgresEventStore(url) as store:
        rows = store.lease_table(LEASE_S).workers()
    assert sorted(r.pid for r in rows) == sorted(p.pid for p, _ in spawned)
    assert all(r.sessions == () and r.alive for r in rows)
    for process, _ in spawned:
        assert process.terminate() == 0, process.output()
    with PostgresEventStore(url) as store:
        assert store.lease_table(LEASE_S).workers() == []  # a clean stop leaves the table


def test_a_killed_worker_s_session_moves_to_the_other_without_repeating_a_call(
    worker: Spawn, recording: Recording, postgres_server: PostgresServer
) -> None:
    url = postgres_server.new_database()
    model = recording([*reads(6), reply("done")])
    # a dies like kill -9 inside the batch of its second tool.finished, before COMMIT
    a, client_a = worker("a", url, {"AGENTCTL_CRASH_AT": "store:mid-batch:tool.finished:2"})
    sid = client_a.create_session(CreateSession(task="crash", model=model, image="none")).id
    assert a.process.wait(30) == 86, a.output()
    died = time.time()
    b, client_b = worker("b", url)
    wait_status(client_b, sid, "completed", timeout=30)
    events = list(client_b.events(sid))
    assert len(_assert_no_call_repeated(events)) == 6
    history = _owners(url)
    assert [(w.split(":")[1], p.split(":")[1] if p else None) for _, w, p, _ in history] == [
        (str(a.pid), None),
        (str(b.pid), str(a.pid)),
    ]
    took_at_seq = history[1][3]
    finished = [e.seq for e in events if e.type == "tool.finished"]
    assert took_at_seq < finished[1]  # a never committed its second tool.finished: b wrote it
    with PostgresEventStore(url) as store:
        _, [row] = store.query(
            "SELECT extract(epoch FROM acquired_at) FROM lease_history ORDER BY id DESC LIMIT 1"
        )
    takeover_s = float(row[0]) - died
    print(f"lease takeover after the kill: {takeover_s:.2f} s (lease {LEASE_S} s)")
    assert takeover_s < LEASE_S + LEASE_S / 3 + 5  # b's start-up is inside this
    assert b.terminate() == 0, b.output()


def test_kill_9_of_the_owner_of_a_waiting_session_then_a_decision_on_the_other(
    worker: Spawn, recording: Recording, postgres_server: PostgresServer
) -> None:
    url = postgres_server.new_database()
    model = recording([reply("write", ("shell", {"command": "touch x"})), reply("done", step=1)])
    a, client_a = worker("a", url)
    b, client_b = worker("b", url)
    sids = [
        client_a.create_session(CreateSession(task=f"ask {i}", model=model, image="none")).id
        for i in range(4)
    ]
    for sid in sids:
        wait_status(client_b, sid, "waiting")
    first = {s: w for s, w, _, _ in _owners(url)}
    of_a = [s for s in sids if first[s].split(":")[1] == str(a.pid)]
    of_b = [s for s in sids if first[s].split(":")[1] == str(b.pid)]
    assert of_a and of_b, first
    # every daemon's status lists the workers and what each owns
    status = client_b.status()
    assert status.worker is not None and status.worker.split(":")[1] == str(b.pid)
    owned = {w.id: sorted(w.sessions) for w in status.workers}
    assert owned == {first[of_a[0]]: sorted(of_a), first[of_b[0]]: sorted(of_b)}
    shown = subprocess.run(
        [sys.executable, "-m", "agentctl", "daemon", "status"],
        env={**os.environ, "AGENTCTL_HOME": str(a.paths.data.parent)},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert f"worker    {first[of_a[0]]}" in shown
    assert f"{first[of_a[0]]} (this daemon): alive" in shown
    assert f"{first[of_b[0]]}: alive" in shown and f"owns {len(of_b)}: " in shown
    # a decision through the daemon that does not own the session: the owner drives it
    for sid in of_b:
        [approval] = client_a.approvals(session=sid)
        client_a.decide(approval.id, Decide(decision="deny", approver="me"))
        wait_status(client_a, sid, "completed")
        wait_status(client_b, sid, "completed")
    # kill -9 of a: its waiting sessions move to b within the lease time
    a.kill()
    died = time.monotonic()
    deadline = died + LEASE_S * 4 + 5
    while True:
        owners = {s: w for s, w, _, _ in _owners(url)}
        if all(owners[s].split(":")[1] == str(b.pid) for s in of_a):
            break
        assert time.monotonic() < deadline, owners
        time.sleep(0.05)
    print(f"waiting sessions taken over {time.monotonic() - died:.2f} s after kill -9")
    for sid in of_a:
        [approval] = client_b.approvals(session=sid)
        client_b.decide(approval.id, Decide(decision="deny", approver="me"))
        wait_status(client_b, sid, "completed")
    for sid in sids:
        events = list(client_b.events(sid))
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        assert sum(e.type == "approval.decided" for e in events) == 1
        assert events[-1].data.get("status") == "completed"
    history = _owners(url)
    for sid in of_b:  # decided through a, driven on by b, which never lost them
        assert [w for s, w, _, _ in history if s == sid] == [first[sid]]
    assert b.terminate() == 0, b.output()


@pytest.fixture
def model_server() -> Iterator[FakeModelServer]:
    fake = FakeModelServer()
    fake.start()
    yield fake
    fake.stop()


def test_a_worker_that_lost_its_lease_stops_driving_and_keeps_serving(
    worker: Spawn, postgres_server: PostgresServer, model_server: FakeModelServer
) -> None:
    url = postgres_server.new_database()
    config = f'[providers.fake]\nbase_url = "{model_server.url}/v1"\ntimeout_s = 60\n'
    model_server.script(
        Reply.sse(openai_chunks(["stale", " answer"]), gate_after=2),  # a's, held
        Reply.sse(openai_chunks(["taken over"])),  # b's
    )
    a, client_a = worker("a", url, config=config)
    sid = client_a.create_session(CreateSession(task="t", model="fake:m", image="none")).id
    assert model_server.at_gate.wait(30)  # a is inside its model call, holding the lease
    b, client_b = worker("b", url, config=config)
    a.process.send_signal(signal.SIGSTOP)  # a stalls (a GC pause, a frozen VM) past its lease
    try:
        wait_status(client_b, sid, "completed", timeout=30)
    finally:
        a.process.send_signal(signal.SIGCONT)
    model_server.open_gate()  # a's stale answer arrives: its lease is gone
    history = _owners(url)
    assert [(w.split(":")[1], p.split(":")[1] if p else None) for _, w, p, _ in history] == [
        (str(a.pid), None),
        (str(b.pid), str(a.pid)),
    ]
    deadline = time.monotonic() + 30
    while "no longer driven here" not in a.output():
        assert time.monotonic() < deadline, a.output()
        time.sleep(0.05)
    assert client_a.status().pid == a.pid  # a lives on and answers
    wait_status(client_a, sid, "completed")
    events = list(client_b.events(sid))
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    texts = [e.data["text"] for e in events if e.type == "model.responded"]
    assert texts == ["taken over"], [(e.seq, e.type, e.data.get("status")) for e in events][4:]
    assert "unexpected error" not in a.output()
    assert a.terminate() == 0, a.output()
    assert b.terminate() == 0, b.output()


@pytest.mark.parametrize("kill", [None, "parent's owner", "child's owner"])
def test_a_parent_and_its_children_on_two_workers(
    worker: Spawn, postgres_server: PostgresServer, kill: str | None
) -> None:
    """A child driven by another worker wakes its parent, across a kill -9 of either owner.

    The worker that holds the parent gives it the child's end (it folds the
    child's last event); the child's worker does not append to a session it
    does not hold. The least loaded worker claims each new session, so the
    children go to the worker that does not hold the parent.
    """
    url = postgres_server.new_database()
    spawned = {name: worker(name, url) for name in "ab"}
    for process, _ in spawned.values():
        agents(process.paths, careful_asks=True)
    client = spawned["a"][1]
    boss = client.create_session(CreateSession(task="delegate twice", agent="boss")).id
    [approval] = pending_approvals(client)  # `careful` asks before its wait
    careful = approval.session
    owner = {s: w.split(":")[1] for s, w, _, _ in _owners(url)}
    [quick] = [kid for kid in children(client, boss) if kid != careful]
    assert owner[quick] == owner[careful] != owner[boss], owner
    by_pid = {str(p.pid): name for name, (p, _) in spawned.items()}
    survivor = spawned["a" if by_pid[owner[boss]] == "b" else "b"]  # the children's worker
    if kill is not None:
        victim = by_pid[owner[boss] if kill == "parent's owner" else owner[careful]]
        spawned[victim][0].kill()
        survivor = spawned["b" if victim == "a" else "a"]
        moved = boss if kill == "parent's owner" else careful
        deadline = time.monotonic() + LEASE_S * 4 + 5
        while (_owners(url)[-1][0], _owners(url)[-1][1].split(":")[1]) != (
            moved,
            str(survivor[0].pid),
        ):
            assert time.monotonic() < deadline, _owners(url)
            time.sleep(0.05)
    other = survivor[1]
    other.decide(approval.id, Decide(decision="approve", approver="me"))
    wait_status(other, boss, "completed")
    assert results(other, boss) == {"call_0_0": {"n": 1}, "call_1_0": {"n": 2}}
    ended = [e.data["child"] for e in other.events(boss) if e.type == "delegate.ended"]
    assert sorted(ended) == sorted([quick, careful])  # each child's end given once
    for sid in (boss, quick, careful):
        _assert_no_call_repeated(list(other.events(sid)))  # gapless, no call twice
    assert survivor[0].terminate() == 0, survivor[0].output()
