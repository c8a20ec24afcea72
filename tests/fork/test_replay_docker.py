"""`agentctl replay` and `record` against a real daemon, real DuckDB and real Docker."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

import pytest

from agentctl.client import Client
from agentctl.protocol import CreateSession, Decide, default_approver
from tests.support.daemon import wait_status
from tests.support.fork import ROOT, final, shell

pytestmark = pytest.mark.docker

Recording = Callable[[str, list[dict[str, Any]]], str]


def replay_json(cli: Any, *args: str) -> tuple[int, dict[str, Any]]:
    result = cli("replay", *args, "--json")
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout.splitlines()[-1])


@pytest.mark.parametrize("decision", ["approve", "deny"])
def test_replay_of_an_unchanged_session_is_identical(
    daemon: Client, cli: Any, sessions_cleanup: list[str], decision: Literal["approve", "deny"]
) -> None:
    """The demo under the default policy: one approval, answered in the replay as in the original."""
    req = CreateSession(
        task="The tests fail. Fix it.",
        model=f"replay:{ROOT / 'recordings/demo.jsonl'}",
        workspace=str(ROOT / "recordings/demo/workspace"),
    )
    sid = daemon.create_session(req).id
    sessions_cleanup.append(sid)
    assert wait_status(daemon, sid, "waiting", timeout=120) == "waiting"
    (approval,) = daemon.approvals(session=sid)
    daemon.decide(approval.id, Decide(decision=decision, approver="ann", reason="my call"))
    assert wait_status(daemon, sid, "completed", "paused", "failed", timeout=120) == "completed"

    code, report = replay_json(cli, sid)
    sessions_cleanup.append(report["replay"])
    assert (code, report["identical"], report["divergence"]) == (0, True, None)
    assert report["decisions"] == 1 and report["calls"] == report["replay_calls"] == (
        6 if decision == "approve" else 5
    )
    assert (report["original_status"], report["replay_status"]) == ("completed", "completed")

    replayed = daemon.session(report["replay"])
    assert replayed.labels["replay_of"] == sid and replayed.task == req.task
    decided = [e.data for e in daemon.events(replayed.id) if e.type == "approval.decided"]
    expected = "approved" if decision == "approve" else "denied"
    assert [(d["decision"], d["claimed"], d["reason"]) for d in decided] == [
        (expected, "replay", "my call")
    ]
    assert decided[0]["approver"] == decided[0]["verified_user"] == default_approver()
    assert Path(report["recording"]).is_file()
    # the original's policy was replayed, not a preset: edit_file asked again
    proposed = [e.data["tier"] for e in daemon.events(replayed.id) if e.type == "tool.proposed"]
    assert proposed.count("ask") == 1


@pytest.fixture
def flavours(docker_client: Any, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Two images derived from the default one that differ in one file: /opt/flavour.txt."""
    from sandboxes import ensure_default_image

    base = ensure_default_image()
    tags = {}
    for flavour in ("alpha", "beta"):
        context = tmp_path / flavour
        context.mkdir()
        (context / "flavour.txt").write_text(f"{flavour}\n")
        (context / "Dockerfile").write_text(f"FROM {base}\nCOPY flavour.txt /opt/flavour.txt\n")
        tag = f"agentctl-test-flavour:{flavour}-{uuid.uuid4().hex[:8]}"
        docker_client.images.build(path=str(context), tag=tag, rm=True)
        tags[flavour] = tag
    yield tags
    for tag in tags.values():
        docker_client.images.remove(tag, force=True)


def test_replay_names_the_step_where_a_tool_behaves_differently(
    daemon: Client,
    cli: Any,
    recording: Recording,
    sessions_cleanup: list[str],
    flavours: dict[str, str],
) -> None:
    steps = [shell("echo hi > a.txt", "c1"), shell("grep -q alpha /opt/flavour.txt", "c2"), final()]
    req = CreateSession(
        task="check the flavour",
        model=recording("flavour", steps),
        policy="permissive",
        image=flavours["alpha"],
    )
    sid = daemon.create_session(req).id
    sessions_cleanup.append(sid)
    assert wait_status(daemon, sid, "completed", "paused", "failed", timeout=120) == "completed"

    same, report = replay_json(cli, sid)
    sessions_cleanup.append(report["replay"])
    assert (same, report["identical"]) == (0, True)

    code, report = replay_json(cli, sid, "--image", flavours["beta"])
    sessions_cleanup.append(report["replay"])
    assert code == 1 and not report["identical"]
    divergence = report["divergence"]
    assert (divergence["kind"], divergence["step"], divergence["index"]) == ("exit_code", 2, 1)
    assert (divergence["original"]["exit_code"], divergence["replay"]["exit_code"]) == (0, 1)
    assert divergence["original"]["name"] == divergence["replay"]["name"] == "shell"
    assert divergence["original"]["args_hash"] == divergence["replay"]["args_hash"]

    text = cli("replay", sid, "--image", flavours["beta"])
    assert text.returncode == 1, text.stderr
    assert (
        "diverged" in text.stdout
        and "step 2: shell exited 1 where the original exited 0" in text.stdout
    )
    sessions_cleanup.extend(s.id for s in daemon.sessions() if s.labels.get("replay_of") == sid)


def test_replay_of_a_missing_or_running_session_is_a_clear_error(
    daemon: Client, cli: Any, recording: Recording
) -> None:
    missing = cli("replay", "ses_nope")
    assert missing.returncode == 1 and "no session 'ses_nope'" in missing.stderr
    model = recording("slow", [shell("true", "c1")])  # asks for a second response it lacks
    sid = daemon.create_session(
        CreateSession(task="x", model=model, image="none", policy="default")
    ).id
    assert wait_status(daemon, sid, "waiting", "paused", timeout=60)
    if daemon.session(sid).status.value == "waiting":
        busy = cli("replay", sid)
        assert busy.returncode == 2 and "still waiting" in busy.stderr


@pytest.mark.parametrize(
    ("content", "where", "what"),
    [
        (
            '{"format": "agentctl-recording", "version": 1}\n{"text": "hi", "tool_calls": [{"id": "a", "name": "shell", "args": 5}]}\n',
            ":2:",
            "must be a JSON object",
        ),
        (
            '{"format": "agentctl-recording", "version": 1}\n\n{"text": "ok"}\n{"txt": "typo"}\n',
            ":4:",
            "unknown field 'txt'",
        ),
        ("not json\n", ":1:", "not valid JSON"),
        ('{"text": "no header"}\n', ":1:", "missing header"),
    ],
)
def test_a_corrupt_recording_is_refused_naming_the_line(
    daemon: Client, cli: Any, tmp_path: Path, content: str, where: str, what: str
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(content)
    result = cli("run", "x", "--model", f"replay:{bad}", "--image", "none")
    assert result.returncode == 2, result.stderr
    assert f"{bad}{where}" in result.stderr and what in result.stderr
    assert "Traceback" not in result.stderr
    assert daemon.sessions() == []  # refused before anything was logged


def test_a_quick_decision_is_not_lost(
    daemon: Client, recording: Recording, sessions_cleanup: list[str]
) -> None:
    # a read first, so that the container exists and pausing it at the approval takes a while
    model = recording("ask", [shell("ls", "c0"), shell("echo 1 > one.txt", "c1"), final()])
    sid = daemon.create_session(CreateSession(task="x", model=model, policy="default")).id
    sessions_cleanup.append(sid)
    approval_id = ""
    for event in daemon.events(sid, follow=True):
        if event.type == "approval.requested":
            approval_id = event.data["approval_id"]
        if event.type == "session.status" and event.data["status"] == "waiting":
            break
    # at once, as a script would
    daemon.decide(approval_id, Decide(decision="approve", approver="ann"))
    assert wait_status(daemon, sid, "completed", "paused", "failed", timeout=30) == "completed"
