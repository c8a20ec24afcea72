"""Approvals through the daemon: racing clients, a denied write, a waiting session holds nothing."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import pytest

from agentctl.client import Client
from agentctl.daemon import lifecycle
from agentctl.errors import ConflictError
from agentctl.paths import Paths
from agentctl.protocol import CreateSession, Decide, default_approver
from tests.support.daemon import Response, reply, wait_status

if TYPE_CHECKING:
    import docker


def test_two_clients_racing_one_wins_on_each_of_50_runs(
    daemon: Client, paths: Paths, recording: Callable[[list[Response]], str]
) -> None:
    model = recording([reply("go", ("shell", {"command": "true"})), reply("done")])
    for run in range(50):
        created = daemon.create_session(
            CreateSession(task=f"race {run}", model=model, image="none")
        )
        wait_status(daemon, created.id, "waiting")
        [approval] = daemon.approvals(session=created.id)
        barrier = threading.Barrier(2)
        outcomes: list[object] = [None, None]

        def decide(
            i: int,
            barrier: threading.Barrier = barrier,
            outcomes: list[object] = outcomes,
            approval_id: str = approval.id,
        ) -> None:
            with lifecycle.connect(paths, autostart=False) as client:
                barrier.wait()
                try:
                    decision: Literal["approve", "deny"] = "approve" if i == 0 else "deny"
                    outcomes[i] = client.decide(
                        approval_id, Decide(decision=decision, approver=f"client{i}", reason="race")
                    )
                except ConflictError as exc:
                    outcomes[i] = exc

        threads = [threading.Thread(target=decide, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        wins = [o for o in outcomes if not isinstance(o, ConflictError)]
        losses = [o for o in outcomes if isinstance(o, ConflictError)]
        assert len(wins) == 1 and len(losses) == 1, outcomes
        winner = "client0" if outcomes[0] is wins[0] else "client1"
        assert f"(as {winner})" in str(losses[0])  # the loser is told who decided first
        decided = [e for e in daemon.events(created.id) if e.type == "approval.decided"]
        assert len(decided) == 1 and decided[0].data["claimed"] == winner


@pytest.mark.docker
def test_waiting_holds_no_task_and_pauses_the_container_and_a_denied_write_changes_nothing(
    daemon: Client,
    recording: Callable[[list[Response]], str],
    docker_client: docker.DockerClient,
    tmp_path: Path,
) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "keep.txt").write_text("original\n")
    model = recording(
        [
            reply(
                "overwrite", ("write_file", {"path": "keep.txt", "content": "clobbered\n"}), step=0
            ),
            reply("look", ("shell", {"command": "cat keep.txt"}), step=1),
            reply("done"),
        ]
    )
    created = daemon.create_session(
        CreateSession(task="deny me", model=model, workspace=str(workspace), policy="default")
    )
    wait_status(daemon, created.id, "waiting")
    summary = daemon.session(created.id)
    container = docker_client.containers.get(summary.container)
    assert container.status == "paused"
    [approval] = daemon.approvals(session=created.id)
    assert approval.tool == "write_file"
    assert "-original" in (approval.context.diff or "") and "+clobbered" in (
        approval.context.diff or ""
    )
    daemon.decide(approval.id, Decide(decision="deny", approver="alice", reason="keep it"))
    wait_status(daemon, created.id, "completed")  # `cat` is read-only: the default policy allows it
    finished = [e.data for e in daemon.events(created.id) if e.type == "tool.finished"]
    # The socket says who decided; the name the client gave is beside it.
    assert (
        finished[0]["error"] == f"the call was denied by {default_approver()} (as alice): keep it"
    )
    assert finished[1]["output"] == "original\n"  # the denied write left the sandbox unchanged
