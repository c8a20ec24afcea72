"""Output for people: the table, the summary, the approvals, the timeline; colour rules.

Colours and styles are off when stdout is not a terminal, and off in a
terminal too when NO_COLOR is set (no-color.org); a pseudo-terminal checks
the second, and that styles are there without it (so the check means something).
"""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from collections.abc import Callable

from agentctl.client import Client
from agentctl.errors import ExitCode
from tests.support.cli import ROOT, Run, env, final, only_session, write

Recording = Callable[[list[dict[str, object]]], str]


def test_ls_show_approvals_and_log_for_people(
    daemon: Client, cli: Run, recording: Recording
) -> None:
    model = recording([write("notes.txt"), final()])
    run = cli("run", "write the notes", "--model", model, "--image", "none", "--no-wait")
    assert run.returncode == ExitCode.WAITING
    sid = only_session(daemon)
    [approval] = daemon.approvals()

    ls = cli("ls")
    header, row = ls.stdout.splitlines()
    assert header.split() == [
        "SESSION",
        "STATUS",
        "AGE",
        "STEPS",
        "COST",
        "APPROVALS",
        "PARENT",
        "TASK",
    ]
    assert row.split()[:2] == [sid, "waiting"] and row.rstrip().endswith("write the notes")

    show = cli("show", sid).stdout
    assert "waiting" in show and "write the notes" in show
    assert f"agentctl approve {approval.id}" in show  # what to do next

    approvals = cli("approvals").stdout
    assert (
        approval.id in approvals
        and sid in approvals
        and 'write_file {"path": "notes.txt"' in approvals
    )

    log = cli("log", sid).stdout
    assert "proposed write_file notes.txt" in log and f"id {approval.id}" in log

    assert ls.returncode == 0 and ls.stderr == ""


def _in_a_terminal(
    *args: str, answer: tuple[str, str] | None = None, **extra: str
) -> tuple[int, str]:
    """Exit code and output of `agentctl ARGS` on a pseudo-terminal; `answer` = (prompt, reply)."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "agentctl", *args],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env=env(TERM="xterm-256color", COLUMNS="120", **extra),
        cwd=ROOT,
    )
    os.close(terminal)
    output = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([controller], [], [], 0.2)
        if not ready:
            if process.poll() is not None:
                break
            continue
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # EIO: the other side closed
            break
        if not chunk:
            break
        output += chunk
        if answer and answer[0].encode() in output:
            os.write(controller, answer[1].encode() + b"\n")
            answer = None
    os.close(controller)
    if process.poll() is None:
        process.kill()
    return process.wait(10), output.decode(errors="replace")


def test_in_a_terminal_run_asks_inline(daemon: Client, recording: Recording) -> None:
    model = recording([write("notes.txt"), final("wrote it")])
    args = ("run", "write the notes", "--model", model, "--image", "none", "--as", "carol")
    code, output = _in_a_terminal(*args, answer=("[a]pprove, [d]eny", "a"), NO_COLOR="1")
    assert code == ExitCode.COMPLETED, output
    assert "write_file" in output and "(as carol)" in output and "wrote it" in output


def test_no_styles_when_piped_or_with_no_color(
    daemon: Client, cli: Run, recording: Recording
) -> None:
    cli("run", "hi", "--model", recording([final()]), "--image", "none")
    piped = cli("ls")
    assert piped.stdout and "\x1b[" not in piped.stdout + piped.stderr
    assert "\x1b[" in _in_a_terminal("ls")[1]  # a terminal gets styles …
    code, plain = _in_a_terminal("ls", NO_COLOR="1")  # … unless NO_COLOR says not to
    assert code == 0 and "completed" in plain and "\x1b[" not in plain
