"""Fork against a real daemon, real DuckDB and real Docker: files, cuts, lineage."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agentctl.client import Client
from agentctl.divergence import compare
from agentctl.errors import UsageError
from agentctl.protocol import CreateSession, Envelope, ForkSession
from tests.support.daemon import wait_status
from tests.support.fork import ROOT, final, shell, tool

pytestmark = pytest.mark.docker

Recording = Callable[[str, list[dict[str, Any]]], str]


def log_of(client: Client, sid: str) -> list[Envelope]:
    return list(client.events(sid))


def triples(events: list[Envelope]) -> list[tuple[int, str, dict[str, Any]]]:
    return [(e.seq, e.type, e.data) for e in events]


def seqs(events: list[Envelope], type_: str, **data: Any) -> list[int]:
    return [
        e.seq
        for e in events
        if e.type == type_ and all(e.data.get(k) == v for k, v in data.items())
    ]


def output_of(events: list[Envelope], call_id: str) -> str:
    (found,) = [
        e.data["output"]
        for e in events
        if e.type == "tool.finished" and e.data["call_id"] == call_id
    ]
    return str(found)


@pytest.fixture
def parent(daemon: Client, recording: Recording, sessions_cleanup: list[str]) -> str:
    """Four steps, each writing fN.txt (a checkpoint after each), then a final answer."""
    steps = [shell(f"echo {n} > f{n}.txt", f"c{n}") for n in range(1, 5)]
    req = CreateSession(
        task="write four files", model=recording("parent", [*steps, final()]), policy="permissive"
    )
    sid = daemon.create_session(req).id
    sessions_cleanup.append(sid)
    assert wait_status(daemon, sid, "completed", "paused", "failed", timeout=120) == "completed"
    return sid


def test_a_fork_sees_the_files_of_its_checkpoint_and_diverges(
    daemon: Client, recording: Recording, sessions_cleanup: list[str], parent: str, cli: Any
) -> None:
    before = log_of(daemon, parent)
    checkpoints = seqs(before, "checkpoint.created")
    assert len(checkpoints) == 4
    other = [
        shell("ls", "o_ls"),
        tool("write_file", {"path": "g.txt", "content": "other\n"}, "o_write"),
        final("took another way"),
    ]
    fork = daemon.fork(
        parent,
        ForkSession(
            at=checkpoints[0], message="do it differently", model=recording("other", other)
        ),
    ).id
    sessions_cleanup.append(fork)
    assert fork != parent
    assert wait_status(daemon, fork, "completed", "paused", "failed", timeout=120) == "completed"
    events = log_of(daemon, fork)

    # the fork starts with a copy of the parent's log up to the cut, then says where it came from
    assert triples(events[1 : checkpoints[0]]) == triples(before[1 : checkpoints[0]])
    assert events[0].data["parent"] == {"session": parent, "seq": checkpoints[0]}
    after_cut = [e.type for e in events[checkpoints[0] :]][:4]
    # its clock stops at the cut (the parent ran on); the new message and `running` come in the
    # same batch (the fork exists whole or not at all), then its container from the checkpoint
    assert after_cut == ["session.status", "message.user", "session.status", "sandbox.restored"]
    assert events[checkpoints[0]].data["status"] == "paused"
    assert events[checkpoints[0] + 3].data["image"] == before[checkpoints[0] - 1].data["image"]

    # the files of that moment, none of the later writes
    assert output_of(events, "o_ls").split() == ["f1.txt"]
    divergence = compare(before, events)
    assert divergence is not None and (divergence.kind, divergence.step) == ("args", 2)

    # the parent is untouched
    assert triples(log_of(daemon, parent)) == triples(before)

    # a replay of the fork re-runs its whole lineage in a fresh sandbox: the same files again
    result = cli("replay", fork, "--json")
    report = json.loads(result.stdout)
    sessions_cleanup.append(report["replay"])
    assert (result.returncode, report["identical"], report["calls"]) == (0, True, 3), report

    # a fork of the fork, at its checkpoint after g.txt was written
    fork_checkpoints = seqs(events, "checkpoint.created")
    grand = daemon.fork(
        fork,
        ForkSession(
            at=fork_checkpoints[-1],
            model=recording("third", [shell("ls; cat f1.txt", "t_ls"), final()]),
        ),
    ).id
    sessions_cleanup.append(grand)
    assert wait_status(daemon, grand, "completed", "paused", "failed", timeout=120) == "completed"
    grand_events = log_of(daemon, grand)
    assert output_of(grand_events, "t_ls").split() == ["f1.txt", "g.txt", "1"]
    assert triples(log_of(daemon, parent)) == triples(before)

    # the lineage, as `agentctl tree --json` shows it
    result = cli("tree", grand, "--json")
    assert result.returncode == 0, result.stderr
    tree = json.loads(result.stdout)
    assert tree["session"] == parent and tree["at"] is None
    (child,) = tree["forks"]
    assert (child["session"], child["at"]) == (fork, checkpoints[0])
    (grandchild,) = child["forks"]
    assert (grandchild["session"], grandchild["at"], grandchild["selected"]) == (
        grand,
        fork_checkpoints[-1],
        True,
    )
    text = cli("tree", parent)
    assert text.returncode == 0 and f"@{checkpoints[0]} {fork}" in text.stdout


def test_a_cut_inside_a_step_is_refused_with_the_nearest_valid_points(
    daemon: Client, parent: str, cli: Any
) -> None:
    events = log_of(daemon, parent)
    checkpoints = seqs(events, "checkpoint.created")
    started = seqs(events, "tool.started", call_id="c2")[0]
    finished = seqs(events, "tool.finished", call_id="c2")[0]
    assert checkpoints[0] < started < finished < checkpoints[1]
    sessions_before = {s.id for s in daemon.sessions()}

    # between tool.started and tool.finished
    with pytest.raises(UsageError) as refused:
        daemon.fork(parent, ForkSession(at=started))
    message = str(refused.value)
    assert "inside a step" in message
    # before: the model request of that step (nothing of it done yet); after: its checkpoint
    requested = max(s for s in seqs(events, "model.requested") if s < started)
    assert checkpoints[0] < requested
    assert f"{requested} (before)" in message and f"{checkpoints[1]} (after)" in message

    # after a mutating tool.finished, before its checkpoint: through the CLI, exit 2, one line
    result = cli("fork", parent, "--at", str(finished), "--detach")
    assert result.returncode == 2, result.stderr
    assert "inside a step" in result.stderr and f"{checkpoints[1]} (after)" in result.stderr
    assert "Traceback" not in result.stderr

    # beyond the end
    with pytest.raises(UsageError, match="beyond its end"):
        daemon.fork(parent, ForkSession(at=events[-1].seq + 5))
    assert {s.id for s in daemon.sessions()} == sessions_before  # nothing was made


def test_a_fork_before_any_checkpoint_keeps_the_workspace(
    daemon: Client, recording: Recording, sessions_cleanup: list[str]
) -> None:
    model = recording("reads", [tool("list_files", {"path": "."}, "l1"), final()])
    req = CreateSession(
        task="look",
        model=model,
        policy="permissive",
        workspace=str(ROOT / "recordings/demo/workspace"),
    )
    sid = daemon.create_session(req).id
    sessions_cleanup.append(sid)
    assert wait_status(daemon, sid, "completed", "paused", "failed", timeout=120) == "completed"
    events = log_of(daemon, sid)
    assert not seqs(events, "checkpoint.created")  # list_files only reads
    cut = seqs(events, "tool.finished", call_id="l1")[0]
    fork = daemon.fork(
        sid,
        ForkSession(at=cut, model=recording("ls", [shell("ls", "f_ls"), final()])),
    ).id
    sessions_cleanup.append(fork)
    assert wait_status(daemon, fork, "completed", "paused", "failed", timeout=120) == "completed"
    assert output_of(log_of(daemon, fork), "f_ls").split() == ["stats.py", "test_stats.py"]


def test_record_writes_a_recording_that_replays(
    daemon: Client, parent: str, cli: Any, tmp_path: Path
) -> None:
    from agentctl.providers.recording import load_recording

    result = cli("record", parent)
    assert result.returncode == 0, result.stderr
    header = json.loads(result.stdout.splitlines()[0])
    assert header["format"] == "agentctl-recording" and header["version"] == 1
    assert header["session"] == parent and header["task"] == "write four files"
    assert header["model"].startswith("replay:")
    path = tmp_path / "recorded.jsonl"
    path.write_text(result.stdout)
    loaded = load_recording(path)
    responded = [e.data for e in log_of(daemon, parent) if e.type == "model.responded"]
    assert len(loaded.responses) == len(responded) == 5
    assert [c.arguments for r in loaded.responses for c in r.tool_calls] == [
        {"command": f"echo {n} > f{n}.txt"} for n in range(1, 5)
    ]
    missing = cli("record", "ses_nope")
    assert missing.returncode == 1 and "no session" in missing.stderr
