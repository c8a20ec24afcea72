"""A real daemon whose event log is on a real PostgreSQL server (`AGENTCTL_STORE_URL`)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from agentctl.client import Client
from agentctl.config import load_config
from agentctl.errors import UsageError
from agentctl.paths import Paths
from agentctl.protocol import CreateSession, Decide, ForkSession, SqlQuery
from store.postgres_store import PostgresEventStore
from tests.support.daemon import Response, SpawnDaemon, reads, reply, wait_status
from tests.support.postgres import PostgresServer

Recording = Callable[[list[Response]], str]


def test_a_session_end_to_end_on_postgres(
    spawn_daemon: SpawnDaemon, paths: Paths, recording: Recording, postgres_server: PostgresServer
) -> None:
    url = postgres_server.new_database()
    model = recording(
        [
            reply("read first", ("read_file", {"path": "a.txt"})),
            reply("now write", ("shell", {"command": "touch x"}), step=1),
            reply("done"),
        ]
    )
    process = spawn_daemon(env={"AGENTCTL_STORE_URL": url})
    client: Client
    with process.wait_ready() as client:
        created = client.create_session(CreateSession(task="on pg", model=model, image="none"))
        wait_status(client, created.id, "waiting")
        [approval] = client.approvals(session=created.id)
        client.decide(approval.id, Decide(decision="approve", approver="me"))
        wait_status(client, created.id, "completed")
        events = list(client.events(created.id))
        status = client.status()
        assert status.database == url and status.last_offset == len(events)
        result = client.sql(
            SqlQuery(sql="SELECT count(*) FROM events WHERE stream = %s", params=[created.id])
        )
        assert result.rows == [[len(events)]]
    assert process.terminate() == 0, process.output()
    assert not paths.database.exists()  # nothing went to the DuckDB file

    # the log is in PostgreSQL, as the daemon served it
    with PostgresEventStore(url) as log:
        stored = log.read_stream(created.id)
    assert [(e.seq, e.type) for e in stored] == [(e.seq, e.type) for e in events]
    assert stored[-1].data.get("status") == "completed"

    # and a restarted daemon reads its state back from there
    again = spawn_daemon(env={"AGENTCTL_STORE_URL": url})
    with again.wait_ready() as client:
        assert client.session(created.id).status == "completed"
    assert again.terminate() == 0, again.output()


def test_an_unreachable_store_url_stops_the_daemon_with_a_clear_message(
    spawn_daemon: SpawnDaemon,
) -> None:
    process = spawn_daemon(env={"AGENTCTL_STORE_URL": "postgresql://agentctl:pw@127.0.0.1:1/x"})
    code = process.process.wait(60)
    output = process.output()
    assert code != 0
    assert "cannot open the event store postgresql://agentctl@127.0.0.1:1/x" in output
    assert "pw@" not in output


def test_store_url_must_be_postgres(paths: Paths) -> None:
    paths.config_file.write_text('[store]\nurl = "mysql://nope"\n')
    with pytest.raises(UsageError, match="PostgreSQL URL"):
        load_config(paths.config_file, sections=("store",))
    paths.config_file.write_text('[store]\nurl = "postgresql://u@h/db"\n')
    assert load_config(paths.config_file, sections=("store",)).store.url == "postgresql://u@h/db"
    env = {"AGENTCTL_STORE_URL": "postgres://other/db"}
    assert load_config(paths.config_file, env, sections=("store",)).store.url == (
        "postgres://other/db"
    )
    paths.config_file.write_text("")
    assert load_config(paths.config_file, {}, sections=("store",)).store.url is None


@pytest.mark.parametrize("crash_at", ["after:tool.finished:3", "store:mid-batch:tool.finished:2"])
def test_a_crash_then_restart_on_postgres_repeats_no_completed_call(
    spawn_daemon: SpawnDaemon,
    recording: Recording,
    postgres_server: PostgresServer,
    crash_at: str,
) -> None:
    url = postgres_server.new_database()
    model = recording([*reads(6), reply("done")])
    crashing = spawn_daemon(env={"AGENTCTL_STORE_URL": url, "AGENTCTL_CRASH_AT": crash_at})
    with crashing.wait_ready() as client:
        created = client.create_session(CreateSession(task="crash", model=model, image="none"))
        assert crashing.process.wait(30) == 86, crashing.output()  # died like kill -9
    restarted = spawn_daemon(env={"AGENTCTL_STORE_URL": url})
    with restarted.wait_ready() as client:
        wait_status(client, created.id, "completed")
        events = list(client.events(created.id))
    assert restarted.terminate() == 0, restarted.output()
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    finished: set[object] = set()
    for event in events:
        call = event.data.get("call_id")
        if event.type == "tool.started":
            assert call not in finished, f"completed call {call} started again at {event.seq}"
        elif event.type == "tool.finished":
            assert call not in finished, f"call {call} finished twice"
            finished.add(call)
    assert len(finished) == 6


def test_a_fork_on_postgres_copies_its_prefix_once_and_runs(
    spawn_daemon: SpawnDaemon, recording: Recording, postgres_server: PostgresServer
) -> None:
    """The fork's copy is folded once, whichever comes first: its own append or the log's echo."""
    url = postgres_server.new_database()
    model = recording(
        [reply("read first", ("read_file", {"path": "a.txt"})), reply("done"), reply("forked")]
    )
    process = spawn_daemon(env={"AGENTCTL_STORE_URL": url})
    with process.wait_ready() as client:
        parent = client.create_session(CreateSession(task="t", model=model, image="none")).id
        wait_status(client, parent, "completed")
        at = client.session(parent).last_seq
        for n in range(3):
            fork = client.fork(parent, ForkSession(at=at, message=f"and then {n}"))
            wait_status(client, fork.id, "completed")
            events = list(client.events(fork.id))
            assert [e.seq for e in events] == list(range(1, len(events) + 1))
            assert events[0].data["parent"] == {"session": parent, "seq": at}
            assert any(e.data.get("text") == f"and then {n}" for e in events)
        assert "unexpected error" not in process.output()
    assert process.terminate() == 0, process.output()
