"""Output for people: the table, the summary, the approvals, the timeline; colour rules.

Colours and styles are off when stdout is not a terminal, and off in a
terminal too when NO_COLOR is set (no-color.org); a pseudo-terminal checks
the second, and that styles are there without it (so the check means something).
"""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from collections.abc import Callable

from agentctl.client import Client
from agentctl.errors import ExitCode

from .conftest import ROOT, Run, env, final, only_session, write

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
    assert approval.id in approvals and sid in approvals and "write_file notes.txt" in approvals

    log = cli("log", sid).stdout
    assert "proposed write_file notes.txt" in log and f"id {approval.id}" in log

    assert ls.returncode == 0 and ls.stderr == ""


def _in_a_terminal(*args: str, **extra: str) -> str:
    """The output of `agentctl ARGS` with stdout and stderr on a pseudo-terminal."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "agentctl", *args],
        stdin=subprocess.DEVNULL,
        stdout=terminal,
        stderr=terminal,
        env=env(TERM="xterm-256color", COLUMNS="120", **extra),
        cwd=ROOT,
    )
    os.close(terminal)
    chunks = []
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # EIO: the other side closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(controller)
    assert process.wait(30) == 0
    return b"".join(chunks).decode()


def test_no_styles_when_piped_or_with_no_color(
    daemon: Client, cli: Run, recording: Recording
) -> None:
    cli("run", "hi", "--model", recording([final()]), "--image", "none")
    piped = cli("ls")
    assert piped.stdout and "\x1b[" not in piped.stdout + piped.stderr
    assert "\x1b[" in _in_a_terminal("ls")  # a terminal gets styles …
    plain = _in_a_terminal("ls", NO_COLOR="1")  # … unless NO_COLOR says not to
    assert "completed" in plain and "\x1b[" not in plain
