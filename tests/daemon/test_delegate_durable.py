"""The `delegate` tool across a real daemon's death: kill -9, and the named crash points.

A `boss` session delegates twice, one child at a time: `quick` answers at once, `careful`
first calls `wait`, which its policy asks a person about. The daemon is killed with
SIGKILL while that approval is pending; after a restart the approval is still in the
queue and names the parent, approving it completes the child and then the parent, and
exactly two children exist. The crash points kill the daemon between making a child and
the parent recording that it waits, and inside the batch that gives the parent the
child's result: neither loses nor repeats the child.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from agentctl.client import Client
from agentctl.crashpoints import CRASH_EXIT_CODE
from agentctl.paths import Paths
from agentctl.protocol import ApprovalView, CreateSession, Decide
from tests.support.daemon import SpawnDaemon, reply, wait_status

SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
ASK_WAIT = 'default = "allow"\n[[rule]]\nname = "ask before waiting"\ntool = "wait"\ntier = "ask"\n'


def agent(paths: Paths, name: str, steps: list[dict[str, Any]], extra: str = "") -> None:
    folder = paths.config / "agents"
    folder.mkdir(parents=True, exist_ok=True)
    lines = [{"format": "agentctl-recording", "version": 1}, *steps]
    (folder / f"{name}.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    (folder / f"{name}.toml").write_text(
        f'model = "replay:{name}.jsonl"\nimage = "none"\n{extra}\n'
    )


def delegate(profile: str, step: int) -> dict[str, Any]:
    args = {"task": f"a job for {profile}", "profile": profile, "output_schema": SCHEMA}
    return reply(f"asking {profile}", ("delegate", args), step=step)


def agents(paths: Paths, *, careful_asks: bool) -> None:
    agent(
        paths,
        "boss",
        [delegate("quick", 0), delegate("careful", 1), reply("both answered")],
        extra='policy = "permissive"\ntools = ["delegate"]',
    )
    agent(paths, "quick", [reply('{"n": 1}')], extra='policy = "permissive"')
    if careful_asks:
        (paths.config / "agents" / "ask-wait.toml").write_text(ASK_WAIT)
    agent(
        paths,
        "careful",
        [reply("first a pause", ("wait", {"seconds": 0.01})), reply('{"n": 2}')],
        extra='policy = "ask-wait.toml"' if careful_asks else 'policy = "permissive"',
    )


def pending_approvals(client: Client, timeout: float = 60.0) -> list[ApprovalView]:
    """The approvals queue once it is not empty (polled, as `wait_status` polls)."""
    deadline = time.monotonic() + timeout
    while not (pending := client.approvals()):
        assert time.monotonic() < deadline, "no approval was asked for"
        time.sleep(0.02)
    return pending


def children(client: Client, parent: str) -> list[str]:
    return [
        s.id
        for s in client.sessions()
        if s.delegated_by is not None and s.delegated_by.session == parent
    ]


def results(client: Client, sid: str) -> dict[str, Any]:
    return {
        e.data["call_id"]: e.data["error"] or json.loads(e.data["output"])
        for e in client.events(sid)
        if e.type == "tool.finished"
    }


def test_kill_9_with_a_childs_approval_pending_loses_and_repeats_nothing(
    spawn_daemon: SpawnDaemon, paths: Paths
) -> None:
    agents(paths, careful_asks=True)
    first = spawn_daemon()
    with first.wait_ready() as client:
        boss = client.create_session(CreateSession(task="delegate twice", agent="boss")).id
        [approval] = pending_approvals(client)
        assert approval.delegated_by == boss and approval.tool == "wait"
    first.kill()  # SIGKILL: no shutdown, nothing flushed
    second = spawn_daemon()
    with second.wait_ready() as client:
        [again] = client.approvals()
        assert (again.id, again.delegated_by) == (approval.id, boss)
        careful = again.session
        assert client.session(careful).delegated_by is not None
        assert client.session(boss).status.value == "waiting"
        client.decide(again.id, Decide(decision="approve", approver="me"))
        wait_status(client, careful, "completed")
        wait_status(client, boss, "completed")
        kids = children(client, boss)
        assert len(kids) == 2 and careful in kids
        assert results(client, boss) == {"call_0_0": {"n": 1}, "call_1_0": {"n": 2}}
        summary = client.session(boss)
        assert (summary.steps, summary.children, summary.children_steps) == (3, 2, 3)
    assert second.terminate() == 0


@pytest.mark.parametrize(
    "crash_at",
    [
        "after:tool.started:1",  # the first call started, its child not yet made
        "delegate:created:1",  # the first child made, the parent not yet waiting for it
        "delegate:created:2",  # the second
        "store:mid-batch:delegate.ended:1",  # the first child's result, not yet committed
        "after:delegate.ended:2",  # the second result committed, the parent not yet run
    ],
)
def test_a_crash_point_between_child_and_parent_neither_loses_nor_repeats_the_child(
    spawn_daemon: SpawnDaemon, paths: Paths, crash_at: str, tmp_path: Path
) -> None:
    agents(paths, careful_asks=False)
    crashing = spawn_daemon(env={"AGENTCTL_CRASH_AT": crash_at})
    with crashing.wait_ready() as client:
        boss = client.create_session(CreateSession(task="delegate twice", agent="boss")).id
        assert crashing.process.wait(30) == CRASH_EXIT_CODE, crashing.output()
    restarted = spawn_daemon()
    with restarted.wait_ready() as client:
        wait_status(client, boss, "completed")
        kids = children(client, boss)
        assert len(kids) == 2, kids
        for kid in kids:
            assert client.session(kid).status.value == "completed"
        assert results(client, boss) == {"call_0_0": {"n": 1}, "call_1_0": {"n": 2}}
        ended = [e.data["child"] for e in client.events(boss) if e.type == "delegate.ended"]
        assert sorted(ended) == sorted(kids)  # each child's result recorded exactly once
    assert restarted.terminate() == 0
