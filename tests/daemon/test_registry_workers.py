"""Workers on two real Docker engines, checkpoints through a real registry (issue #23).

Worker A drives sessions on the machine's engine; worker B on a second engine
of its own (tcp://127.0.0.1 with TLS, tests/support/engine.py) that starts
with no image at all. Both share a real PostgreSQL log and a real registry
(`[sandbox] registry`). What B's sandboxes hold can only have come from the
registry.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agentctl.client import Client
from agentctl.protocol import CreateSession, Decide, Envelope, ForkSession
from store.postgres_store import PostgresEventStore
from tests.support.daemon import wait_status
from tests.support.engine import SecondEngine
from tests.support.fork import final, shell, tool
from tests.support.postgres import PostgresServer
from tests.support.registry import RegistryServer
from tests.support.workers import Spawn, workers

pytestmark = pytest.mark.docker

Recording = Callable[[list[dict[str, Any]]], str]
LEASE_S = 3.0


@pytest.fixture
def worker(
    tmp_path: Path, postgres_server: PostgresServer, registry_server: RegistryServer
) -> Iterator[Spawn]:
    """A worker daemon on a home of its own, the shared log and the registry."""
    with workers(
        tmp_path, LEASE_S, f'[sandbox]\nregistry = "{registry_server.address}"\n'
    ) as spawn:
        yield spawn


def _outputs(events: list[Envelope]) -> dict[str, str]:
    return {
        str(e.data["call_id"]): str(e.data["output"]) for e in events if e.type == "tool.finished"
    }


def _assert_no_call_repeated(events: list[Envelope]) -> None:
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    started = [e.data["call_id"] for e in events if e.type == "tool.started"]
    finished = [e.data["call_id"] for e in events if e.type == "tool.finished"]
    assert len(started) == len(set(started)) and len(finished) == len(set(finished)), started


def test_a_session_taken_over_on_another_engine_has_its_files_from_the_registry(
    worker: Spawn,
    recording: Recording,
    postgres_server: PostgresServer,
    second_engine: SecondEngine,
    registry_server: RegistryServer,
    sessions_cleanup: list[str],
) -> None:
    url = postgres_server.new_database()
    model = recording(
        [
            shell("echo once >> side.txt", "c1"),
            tool("write_file", {"path": "b.txt", "content": "on b\n"}, "c2"),
            shell("cat side.txt b.txt", "c3"),
            final("done"),
        ]
    )
    # A, on the machine's engine: c1 approved and run, its checkpoint pushed; then A is
    # killed with SIGKILL while the session waits for c2's approval (the default policy
    # asks before a write), so the log ends at a known point
    a, client_a = worker("a", url)
    sid = client_a.create_session(CreateSession(task="t", model=model)).id
    sessions_cleanup.append(sid)
    _approve(client_a, sid, "c1")
    _wait_for_approval(client_a, sid, "c2")
    assert [e.type for e in client_a.events(sid)].count("checkpoint.created") == 1
    a.kill()
    engine2 = second_engine.client()
    # B's engine has never seen an image of this session
    assert engine2.images.list(filters={"label": f"agentctl.stream={sid}"}) == []

    b, client_b = worker("b", url, second_engine.env())
    began = time.monotonic()
    _approve(client_b, sid, "c2")  # through B; B drives it once its lease is taken
    try:
        ended = wait_status(client_b, sid, "completed", "paused", "failed", timeout=120)
    except AssertionError:
        ended = "not ended"
    assert ended == "completed", _log(client_b, sid)
    took_s = time.monotonic() - began
    events = list(client_b.events(sid))
    _assert_no_call_repeated(events)
    checkpoint = next(e for e in events if e.type == "checkpoint.created")
    image = str(checkpoint.data["image"])
    outputs = _outputs(events)
    # the file of A's checkpoint, written once, beside the one written on B
    assert outputs["c3"].split() == ["once", "on", "b"], outputs
    restored = [e for e in events if e.type == "sandbox.restored"]
    assert [e.data["image"] for e in restored] == [image]
    assert restored[0].seq > checkpoint.seq
    # B's engine pulled it (and holds it under its plain name); B's own checkpoint went out too
    assert _has(engine2, image)
    later = [e for e in events if e.type == "checkpoint.created" and e.seq > checkpoint.seq]
    assert later and all(_has(engine2, str(e.data["image"])) for e in later)
    repo = image.split(":")[0]
    pushed = {str(e.data["image"]).split(":")[1] for e in [checkpoint, *later]}
    assert pushed <= set(registry_server.tags(repo))
    print(f"takeover with a registry pull on engine 2: completed {took_s:.2f} s after B started")

    # B says which engine it drives, and no secret: the host and the TLS mode, not the keys
    status = client_b.status()
    assert status.engine is not None and status.engine.startswith(second_engine.host)
    assert "TLS" in status.engine and "key.pem" not in status.engine
    assert status.registry == registry_server.address
    shown = subprocess.run(
        [sys.executable, "-m", "agentctl", "daemon", "status"],
        env={**os.environ, "AGENTCTL_HOME": str(b.paths.data.parent)},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert f"engine    {second_engine.host} (TLS" in shown, shown
    assert f"registry  {registry_server.address}" in shown, shown
    assert b.terminate() == 0, b.output()
    engine2.close()


def test_a_fork_driven_on_the_other_engine_restores_its_parent_s_checkpoint(
    worker: Spawn,
    recording: Recording,
    postgres_server: PostgresServer,
    second_engine: SecondEngine,
    sessions_cleanup: list[str],
) -> None:
    url = postgres_server.new_database()
    parent_model = recording([shell("echo parent > p.txt", "p1"), final("parent done")])
    a, client_a = worker("a", url)
    parent = client_a.create_session(
        CreateSession(task="parent", model=parent_model, policy="permissive")
    ).id
    sessions_cleanup.append(parent)
    assert (
        wait_status(client_a, parent, "completed", "paused", "failed", timeout=120) == "completed"
    )
    [cut] = [e.seq for e in client_a.events(parent) if e.type == "checkpoint.created"]
    assert a.terminate() == 0, a.output()  # only B is left: it makes and drives the fork

    b, client_b = worker("b", url, second_engine.env())
    fork_model = recording([shell("cat p.txt", "f1"), final("fork done")])
    began = time.monotonic()
    fork = client_b.fork(parent, ForkSession(at=cut, model=fork_model)).id
    sessions_cleanup.append(fork)
    assert wait_status(client_b, fork, "completed", "paused", "failed", timeout=120) == "completed"
    forked_s = time.monotonic() - began
    events = list(client_b.events(fork))
    assert _outputs(events)["f1"].strip() == "parent"
    parent_image = next(e for e in client_b.events(parent) if e.type == "checkpoint.created")
    restored = [e.data["image"] for e in events if e.type == "sandbox.restored"]
    assert restored == [parent_image.data["image"]]
    print(f"fork restored on engine 2 through the registry and completed in {forked_s:.2f} s")
    assert b.terminate() == 0, b.output()


def test_a_push_to_a_stopped_registry_pauses_the_session_and_loses_nothing(
    worker: Spawn,
    recording: Recording,
    postgres_server: PostgresServer,
    registry_server: RegistryServer,
    sessions_cleanup: list[str],
) -> None:
    url = postgres_server.new_database()
    model = recording([shell("echo kept >> k.txt", "c1"), shell("cat k.txt", "c2"), final("done")])
    a, client_a = worker("a", url)
    registry_server.stop()
    try:
        sid = client_a.create_session(CreateSession(task="t", model=model, policy="permissive")).id
        sessions_cleanup.append(sid)
        assert wait_status(client_a, sid, "paused", "completed", "failed", timeout=120) == "paused"
        events = list(client_a.events(sid))
        reason = str(events[-1].data.get("reason"))
        assert events[-1].type == "session.status", events[-1]
        assert f"push agentctl-checkpoint:{sid.lower()}-" in reason, reason
        assert f"the registry {registry_server.address}" in reason, reason
        assert [e.type for e in events if e.type == "checkpoint.created"] == []  # none unpushed
        assert "c1" in _outputs(events)  # the call's result is kept
    finally:
        registry_server.start()
    client_a.resume(sid)
    assert wait_status(client_a, sid, "completed", "paused", "failed", timeout=120) == "completed"
    events = list(client_a.events(sid))
    _assert_no_call_repeated(events)
    assert _outputs(events)["c2"].strip() == "kept"  # c1 ran once, before the pause
    [checkpoint, *_] = [e for e in events if e.type == "checkpoint.created"]
    repo, tag = str(checkpoint.data["image"]).split(":")
    assert tag in registry_server.tags(repo)
    assert a.terminate() == 0, a.output()


# -- helpers ---------------------------------------------------------------------------


def _log(client: Client, sid: str) -> str:
    """The session's log, one line per event, for a failure's message."""
    return "\n".join(
        f"{e.seq} {e.type} {e.data.get('status') or ''} {e.data.get('reason') or ''} "
        f"{e.data.get('call_id') or ''}"
        for e in client.events(sid)
    )


def _wait_for_approval(client: Client, sid: str, call_id: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while True:
        pending = [a for a in client.approvals(session=sid) if a.call_id == call_id]
        if pending:
            return pending[0].id
        if time.monotonic() > deadline:
            raise AssertionError(_log(client, sid))
        time.sleep(0.05)


def _approve(client: Client, sid: str, call_id: str) -> None:
    approval = _wait_for_approval(client, sid, call_id)
    client.decide(approval, Decide(decision="approve", approver="tests"))


def _has(client: Any, image: str) -> bool:
    try:
        client.api.inspect_image(image)
    except Exception:
        return False
    return True


def test_a_worker_killed_between_the_push_and_the_event_pushes_again_on_restart(
    worker: Spawn,
    recording: Recording,
    postgres_server: PostgresServer,
    registry_server: RegistryServer,
    sessions_cleanup: list[str],
) -> None:
    url = postgres_server.new_database()
    model = recording(
        [shell("echo pushed >> p.txt", "c1"), shell("cat p.txt", "c2"), final("done")]
    )
    a, client_a = worker("a", url, {"AGENTCTL_CRASH_AT": "sandbox:pushed:1"})
    sid = client_a.create_session(CreateSession(task="t", model=model, policy="permissive")).id
    sessions_cleanup.append(sid)
    assert a.process.wait(180) == 86, a.output()
    tag = f"{sid.lower()}-"
    pushed = [t for t in registry_server.tags("agentctl-checkpoint") if t.startswith(tag)]
    assert len(pushed) == 1  # in the registry, named by no event yet
    first_digest = registry_server.digest("agentctl-checkpoint", pushed[0])
    again, client = worker("a", url)  # the same home and engine, started again
    assert wait_status(client, sid, "completed", "paused", "failed", timeout=120) == "completed"
    events = list(client.events(sid))
    _assert_no_call_repeated(events)
    assert _outputs(events)["c2"].strip() == "pushed"
    images = [str(e.data["image"]) for e in events if e.type == "checkpoint.created"]
    assert images[0] == f"agentctl-checkpoint:{pushed[0]}"  # the same tag, pushed again:
    assert registry_server.digest("agentctl-checkpoint", pushed[0]) != first_digest  # a new commit
    assert {i.split(":")[1] for i in images} <= set(registry_server.tags("agentctl-checkpoint"))
    assert again.terminate() == 0, again.output()


def _history(url: str) -> list[tuple[str, str, str | None, int]]:
    with PostgresEventStore(url) as store:
        return store.lease_table(LEASE_S).history()


def _lease_row(url: str, sid: str) -> tuple[str, float, str | None, float]:
    """The session's owner, expiry and engine, and the latest heartbeat of any other worker."""
    with PostgresEventStore(url) as store:
        _, [(owner, expires, engine)] = store.query(
            "SELECT owner, extract(epoch FROM expires_at), engine FROM session_leases "
            "WHERE session = %s",
            [sid],
        )
        _, [(beat,)] = store.query(
            "SELECT coalesce(max(extract(epoch FROM heartbeat)), 0) FROM workers "
            "WHERE worker <> %s",
            [owner],
        )
    return str(owner), float(expires), engine, float(beat)


def test_without_a_registry_a_session_stays_on_the_engine_that_has_its_images(
    tmp_path: Path,
    recording: Recording,
    postgres_server: PostgresServer,
    second_engine: SecondEngine,
    sessions_cleanup: list[str],
) -> None:
    """Worker B on another engine never takes it; a worker on its engine does."""
    url = postgres_server.new_database()
    model = recording(
        [
            shell("echo once >> side.txt", "c1"),
            tool("write_file", {"path": "b.txt", "content": "back on 1\n"}, "c2"),
            shell("cat side.txt b.txt", "c3"),
            final("done"),
        ]
    )
    with workers(tmp_path, LEASE_S) as spawn:  # no [sandbox] registry
        a, client_a = spawn("a", url)
        sid = client_a.create_session(CreateSession(task="t", model=model)).id
        sessions_cleanup.append(sid)
        _approve(client_a, sid, "c1")
        _wait_for_approval(client_a, sid, "c2")
        owner, _, engine, _ = _lease_row(url, sid)
        assert owner.split(":")[1] == str(a.pid) and engine  # pinned to engine 1
        a.kill()
        b, _ = spawn("b", url, second_engine.env())
        # B beats, then claims, every lease_s / 3: a beat one period after the lease
        # expired means B has had a claim round with the lease free to take
        deadline = time.monotonic() + LEASE_S * 4 + 30
        while True:
            owner, expires, _, beat = _lease_row(url, sid)
            if beat > expires + LEASE_S / 3:
                break
            assert time.monotonic() < deadline, (owner, expires, beat)
            time.sleep(0.05)
        assert owner.split(":")[1] == str(a.pid)  # expired, and still nobody else's
        c, client_c = spawn("c", url)  # on engine 1, where the images are
        _approve(client_c, sid, "c2")
        assert wait_status(client_c, sid, "completed", "paused", timeout=120) == "completed"
        events = list(client_c.events(sid))
        _assert_no_call_repeated(events)
        assert _outputs(events)["c3"].split() == ["once", "back", "on", "1"]
        takers = {w.split(":")[1] for s, w, _, _ in _history(url) if s == sid}
        assert takers == {str(a.pid), str(c.pid)}, takers  # never b
        assert b.terminate() == 0 and c.terminate() == 0
