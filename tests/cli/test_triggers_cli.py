"""`run --at`, `schedule` and `hook` from the command line, against a real daemon."""

from __future__ import annotations

import json
from collections.abc import Callable

from agentctl.client import Client
from tests.support.cli import Run, final
from tests.support.daemon import Response


def test_run_at_prints_the_id_and_the_session_waits_for_its_time(
    daemon: Client, cli: Run, recording: Callable[[list[Response]], str]
) -> None:
    model = recording([final()])
    done = cli("run", "--at", "+2h", "--image", "none", "--model", model, "later")
    assert done.returncode == 0, done.stderr
    sid = done.stdout.strip()
    assert "starts at" in done.stderr
    summary = daemon.session(sid)
    assert summary.status.value == "waiting" and summary.reason.startswith("scheduled: starts at")
    bad = cli("run", "--at", "tomorrow-ish", "--image", "none", "--model", model, "x")
    assert bad.returncode == 2 and "--at" in bad.stderr
    cancelled = cli("cancel", sid)
    assert cancelled.returncode == 0 and "cancelled" in cancelled.stdout


def test_schedule_and_hook_commands(
    daemon: Client, cli: Run, recording: Callable[[list[Response]], str]
) -> None:
    model = recording([final()])
    added = cli(
        "schedule", "add", "nightly", "--cron", "0 2 * * *", "--tz", "Europe/Paris",
        "--image", "none", "--model", model, "--overlap", "queue", "--", "triage", "issues",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "schedule nightly: 0 2 * * * (Europe/Paris), next at" in added.stdout
    listed = json.loads(cli("schedule", "ls", "--json").stdout)
    assert [(s["name"], s["task"], s["overlap"]) for s in listed] == [
        ("nightly", "triage issues", "queue")
    ]
    now = cli("schedule", "run-now", "nightly", "--json")
    assert now.returncode == 0, now.stderr
    assert json.loads(now.stdout)["outcome"] == "started"
    assert cli("schedule", "pause", "nightly").returncode == 0
    assert json.loads(cli("schedule", "ls", "--json").stdout)[0]["paused"] is True
    bad = cli("schedule", "add", "x", "--cron", "61 * * * *", "--image", "none", "--", "t")
    assert bad.returncode == 2 and "bad cron expression" in bad.stderr
    assert cli("schedule", "rm", "nightly").returncode == 0
    assert cli("schedule", "rm", "nightly").returncode == 1  # not found: one line, no traceback

    hook = cli(
        "hook", "add", "gh", "--task-template", "Review #{{payload.number}}", "--image", "none"
    )
    assert hook.returncode == 0, hook.stderr
    assert "POST /v1/hooks/gh" in hook.stdout and "secret: " in hook.stdout
    secret = hook.stdout.split("secret: ")[1].split()[0]
    shown = cli("hook", "ls", "--json")
    assert secret not in shown.stdout and json.loads(shown.stdout)[0]["name"] == "gh"
    bad_template = cli("hook", "add", "g2", "--task-template", "{{ payload.a }} {{ oops }}")
    assert bad_template.returncode == 2 and "not a placeholder" in bad_template.stderr
    assert cli("hook", "rm", "gh").returncode == 0
