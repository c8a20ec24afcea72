"""Every exit code of docs/design.md §10, each from a real session in a real daemon.

0 completed, 1 failed, 2 usage error (test_usage.py), 3 waiting with
`--no-wait`, 4 paused, 5 cancelled, 130 interrupted (the session goes on).
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Callable

from agentctl.client import Client
from agentctl.errors import ExitCode
from tests.support.cli import Run, final, one_line, only_session, read, write
from tests.support.daemon import wait_status

Recording = Callable[[list[dict[str, object]]], str]
Spawn = Callable[..., subprocess.Popen[str]]


def test_0_completed_with_the_timeline_on_stdout_and_progress_on_stderr(
    daemon: Client, cli: Run, recording: Recording
) -> None:
    model = recording([read("notes.txt"), final("nothing to do")])
    result = cli("run", "look at the notes", "--model", model, "--image", "none")
    assert result.returncode == ExitCode.COMPLETED, result.stderr
    sid = only_session(daemon)
    assert "Ctrl-C detaches" in result.stderr and sid in result.stderr
    assert "Ctrl-C" not in result.stdout
    assert "assistant nothing to do" in result.stdout
    assert "● completed" in result.stdout
    assert "\x1b[" not in result.stdout + result.stderr  # piped: no colours, no styles


def test_1_failed_when_the_model_cannot_go_on(
    daemon: Client, cli: Run, recording: Recording
) -> None:
    model = recording([read("a.txt")])  # no final answer: the recording runs out, a 4xx of sorts
    result = cli("run", "read", "--model", model, "--image", "none")
    assert result.returncode == ExitCode.FAILED, result.stderr
    assert "● failed" in result.stdout and "recording exhausted" in result.stdout
    assert cli("attach", only_session(daemon)).returncode == ExitCode.FAILED


def test_1_for_an_unknown_session_with_one_line_and_a_traceback_only_with_debug(
    daemon: Client, cli: Run
) -> None:
    result = cli("show", "ses_nope")
    assert result.returncode == ExitCode.FAILED
    assert one_line(result.stderr) == "error: no session 'ses_nope' (see `agentctl ls`)"
    debug = cli("--debug", "show", "ses_nope")
    assert debug.returncode == ExitCode.FAILED
    assert "Traceback" in debug.stderr and "NotFoundError" in debug.stderr


def test_3_waiting_with_no_wait_when_piped(daemon: Client, cli: Run, recording: Recording) -> None:
    model = recording([write("a.txt"), final()])
    result = cli("run", "write a file", "--model", model, "--image", "none", "--no-wait")
    assert result.returncode == ExitCode.WAITING, result.stderr
    sid = only_session(daemon)
    assert daemon.session(sid).status.value == "waiting"
    assert "agentctl approve" in result.stderr and f"agentctl attach {sid}" in result.stderr
    assert 'approval needed write_file {"path": "a.txt"' in result.stdout
    # attach says the same while it waits, and the approval lets it end with 0
    assert cli("attach", sid, "--no-wait").returncode == ExitCode.WAITING
    [approval] = daemon.approvals(session=sid)
    approved = cli("approve", approval.id, "--as", "alice", "--reason", "fine")
    assert approved.returncode == 0 and approval.id in approved.stdout
    attached = cli("attach", sid)
    assert attached.returncode == ExitCode.COMPLETED
    assert "(as alice): fine" in attached.stdout


def test_4_paused_by_the_step_budget_then_resumed_with_a_raised_one(
    daemon: Client, cli: Run, recording: Recording
) -> None:
    model = recording([read("a", 0), read("b", 1), read("c", 2), final()])
    result = cli("run", "read three files", "--model", model, "--image", "none", "--max-steps", "1")
    assert result.returncode == ExitCode.PAUSED, result.stderr
    assert "budget exceeded steps" in result.stdout
    sid = only_session(daemon)
    assert cli("attach", sid).returncode == ExitCode.PAUSED  # attaching to a paused session
    resumed = cli("resume", sid, "--max-steps", "10")
    assert resumed.returncode == ExitCode.COMPLETED, resumed.stderr
    assert "● completed" in resumed.stdout
    assert "task:" not in resumed.stdout  # only what happened after the resume


def test_5_cancelled_by_another_client_while_attached(
    daemon: Client, cli: Run, spawn: Spawn, recording: Recording
) -> None:
    model = recording([write("a.txt"), final()])
    sid = cli("run", "write", "--model", model, "--image", "none", "--detach").stdout.strip()
    wait_status(daemon, sid, "waiting", timeout=30)
    attach = spawn("attach", sid)  # piped: waits for a decision from another client
    cancelled = cli("cancel", sid)
    assert cancelled.returncode == 0 and cancelled.stdout.strip() == f"{sid} cancelled"
    stdout, stderr = attach.communicate(timeout=30)
    assert attach.returncode == ExitCode.CANCELLED, stderr
    assert "● cancelled" in stdout


def test_130_on_sigint_and_the_session_goes_on_in_the_daemon(
    daemon: Client, cli: Run, spawn: Spawn, recording: Recording
) -> None:
    model = recording([write("a.txt"), final()])
    run = spawn("run", "write a file", "--model", model, "--image", "none")
    sid = only_session(daemon)
    wait_status(daemon, sid, "waiting", timeout=30)
    last = daemon.session(sid).last_seq
    assert run.stderr is not None
    seen = ""
    while "waiting for a decision from another client" not in seen:  # it is following now
        line = run.stderr.readline()
        assert line, f"the client ended early: {seen}"
        seen += line
    run.send_signal(signal.SIGINT)
    _, stderr = run.communicate(timeout=30)
    stderr = seen + stderr
    assert run.returncode == ExitCode.INTERRUPTED, stderr
    assert "Traceback" not in stderr
    assert f"agentctl attach {sid} --after" in stderr
    assert "goes on in the daemon" in stderr
    assert daemon.session(sid).status.value == "waiting"  # the session did not stop with us
    [approval] = daemon.approvals(session=sid)
    assert cli("approve", approval.id).returncode == 0
    wait_status(daemon, sid, "completed", timeout=30)
    assert daemon.session(sid).last_seq > last
