"""The CLI in shell pipelines, with Debian's `jq`: stdin, NDJSON, --detach, JSON everywhere.

Issue 6 asks for exactly the approval pipeline: a detached session with the
default policy waits, and `agentctl approvals --json | jq -r '.[].id' |
xargs -n1 agentctl approve` lets it finish.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from agentctl.client import Client
from agentctl.errors import ExitCode
from tests.support.cli import Run, final, only_session, read, write

Recording = Callable[[list[dict[str, object]]], str]


def test_the_task_from_stdin_and_ndjson_into_jq(
    daemon: Client, sh: Run, recording: Recording
) -> None:
    model = recording([read("a.txt"), write("b.txt", 1), final()])
    result = sh(
        f"echo 'the task, from stdin' | agentctl run - --model {model} --image none "
        "--policy permissive --json "
        """| jq -c 'select(.type == "tool.finished") | {seq, call: .data.call_id}'"""
    )
    assert result.returncode == 0, result.stderr
    finished = [json.loads(line) for line in result.stdout.splitlines()]
    assert [f["call"] for f in finished] == ["call_0_0", "call_1_0"]
    assert result.stderr == ""  # --json: no progress line either
    sid = only_session(daemon)
    assert daemon.session(sid).task == "the task, from stdin"


def test_run_json_is_one_envelope_per_line_in_order(
    daemon: Client, cli: Run, recording: Recording
) -> None:
    model = recording([read("a.txt"), final()])
    result = cli("run", "read", "--model", model, "--image", "none", "--json")
    assert result.returncode == 0
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert all(set(e) == {"v", "session", "seq", "offset", "ts", "type", "data"} for e in events)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[0]["type"] == "session.created"
    assert events[-1]["type"] == "session.status" and events[-1]["data"]["status"] == "completed"
    # `log --json` is the same log
    log = [
        json.loads(line) for line in cli("log", events[0]["session"], "--json").stdout.splitlines()
    ]
    assert log == events


def test_detach_waits_and_the_approvals_pipeline_lets_it_finish(
    daemon: Client, sh: Run, recording: Recording
) -> None:
    model = recording([write("a.txt"), final()])
    result = sh(
        f"""
        sid=$(agentctl run --detach --model {model} --image none "write a file")
        for _ in $(seq 300); do
            [ "$(agentctl show "$sid" --json | jq -r .status)" = waiting ] && break
            sleep 0.1
        done
        agentctl show "$sid" --json | jq -e '.status == "waiting" and .pending_approvals == 1' >/dev/null
        agentctl approvals --json | jq -r '.[].id' | xargs -n1 agentctl approve
        agentctl attach "$sid" >/dev/null
        echo "$sid"
        """
    )
    assert result.returncode == 0, result.stderr
    sid = result.stdout.splitlines()[-1]
    assert sid.startswith("ses_") and result.stdout.count("approved apr_") == 1
    assert daemon.session(sid).status.value == "completed"


def test_detach_prints_the_id_alone_or_as_json(
    daemon: Client, cli: Run, recording: Recording
) -> None:
    model = recording([final()])
    plain = cli("run", "hi", "--model", model, "--image", "none", "--detach")
    assert plain.returncode == 0 and plain.stderr == ""
    assert plain.stdout.strip().startswith("ses_") and len(plain.stdout.splitlines()) == 1
    as_json = cli("run", "hi", "--model", model, "--image", "none", "--detach", "--json")
    assert list(json.loads(as_json.stdout)) == ["session"]


def test_every_listing_is_json_for_jq(
    daemon: Client, sh: Run, cli: Run, recording: Recording
) -> None:
    model = recording([write("a.txt"), final()])
    waiting = cli(
        "run", "write", "--model", model, "--image", "none", "--no-wait", "--label", "team=cli"
    )
    assert waiting.returncode == ExitCode.WAITING
    sid = only_session(daemon)
    result = sh(
        f"""
        agentctl ls --json | jq -e 'length == 1 and .[0].id == "{sid}" and .[0].labels.team == "cli"'
        agentctl ls --status waiting --json | jq -e 'length == 1'
        agentctl show {sid} --json | jq -e '.status == "waiting" and .pending_approvals == 1'
        agentctl approvals --json | jq -e '.[0].session == "{sid}" and .[0].tool == "write_file"'
        agentctl tree {sid} --json | jq -e '.session == "{sid}" and .forks == []'
        agentctl daemon status --json | jq -e '.sessions.waiting == 1 and (.pid | type) == "number"'
        agentctl deny "$(agentctl approvals --json | jq -r '.[0].id')" --reason no --as bob --json \
            | jq -e '.type == "approval.decided" and .data.claimed == "bob" and .data.decision == "denied"'
        agentctl attach {sid} >/dev/null
        agentctl log {sid} --json | jq -se 'map(select(.type == "tool.finished")) | .[0].data.error | test("denied by .* [(]as bob[)]")'
        """
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_fork_at_a_checkpoint_and_the_tree(
    daemon: Client, cli: Run, sh: Run, recording: Recording
) -> None:
    parent_model = recording([write("a.txt"), final("parent done")])
    parent = cli(
        "run", "write", "--model", parent_model, "--image", "none", "--policy", "permissive"
    )
    assert parent.returncode == 0
    sid = only_session(daemon)
    checkpoints = [
        json.loads(line)["seq"]
        for line in cli("log", sid, "--json").stdout.splitlines()
        if json.loads(line)["type"] == "checkpoint.created"
    ]
    assert checkpoints and f"agentctl fork {sid} --at {checkpoints[0]}" in cli("log", sid).stdout
    fork_model = recording([write("a.txt"), final("the fork went another way")])
    forked = cli("fork", sid, "--at", str(checkpoints[0]), "try again", "--model", fork_model)
    assert forked.returncode == 0, forked.stderr
    assert "the fork went another way" in forked.stdout
    assert f"forked {sid}@{checkpoints[0]}" in forked.stderr
    result = sh(
        f"""agentctl tree {sid} --json | jq -e '.forks | length == 1 and .[0].at == {checkpoints[0]}'"""
    )
    assert result.returncode == 0, result.stderr
    tree = cli("tree", sid).stdout
    assert sid in tree and f"@{checkpoints[0]} ses_" in tree
    inside = cli("fork", sid, "--at", str(checkpoints[0] - 1))
    assert inside.returncode == ExitCode.USAGE and "inside a step" in inside.stderr
