"""The example plugin (examples/agentctl-wordcount), installed by pip as a user
would, found by a real daemon through its entry points, and missed by one
that lacks it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from agentctl.errors import ConflictError
from agentctl.protocol import Budget, CreateSession, Decide, ResumeSession
from tests.support.daemon import SpawnDaemon, wait_status

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "agentctl-wordcount"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`pip install` of the example into a folder of its own (PYTHONPATH puts it beside agentctl)."""
    work = tmp_path_factory.mktemp("plugin")
    source = work / "source"
    shutil.copytree(EXAMPLE, source)  # a build writes into its source folder
    target = work / "site"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(target),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert (target / "agentctl_wordcount-1.0.0.dist-info" / "entry_points.txt").is_file()
    return target


def test_a_plugin_tool_and_model_run_a_session_and_are_recorded(
    spawn_daemon: SpawnDaemon, installed: Path
) -> None:
    process = spawn_daemon(env={"PYTHONPATH": str(installed)})
    client = process.wait_ready()
    try:
        task = "count these five little words"
        req = CreateSession(task=task, model="counter:demo", image="none", policy="permissive")
        sid = client.create_session(req).id
        assert wait_status(client, sid, "completed", "paused", "failed") == "completed"
        events = list(client.events(sid))
        (finished,) = [e for e in events if e.type == "tool.finished"]
        assert finished.data["output"] == '{"words": 5}'
        assert events[-2].type == "model.responded"
        assert events[-2].data["text"] == "demo: the task has 5 words"
        plugins = {p["name"]: p for p in events[0].data["plugins"]}
        assert plugins["wordcount"]["distribution"] == "agentctl-wordcount"
        assert plugins["wordcount"]["version"] == "1.0.0"
        assert "word_count" in plugins["wordcount"]["provides"]
        assert plugins["counter"]["group"] == "agentctl.providers"
        status = client.status()  # what `agentctl doctor` shows
        assert {(p.name, tuple(p.provides)) for p in status.plugins} == {
            ("wordcount", ("word_count", "line_count")),
            ("counter", ("counter",)),
        }
        assert status.plugin_errors == []
        sources = {t.name: (t.source, t.idempotent, t.tier) for t in client.tools()}
        assert sources["word_count"] == ("plugin:agentctl-wordcount", True, "ask")
        assert sources["shell"][0] == "builtin"
        doctor = subprocess.run(
            [sys.executable, "-m", "agentctl", "doctor"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert "plugin wordcount  agentctl-wordcount 1.0.0: tools word_count, line_count" in (
            doctor.stdout
        ), doctor.stdout
    finally:
        client.close()
        assert process.terminate() == 0, process.output()


def test_a_daemon_without_the_plugin_says_what_to_install(
    spawn_daemon: SpawnDaemon, installed: Path
) -> None:
    first = spawn_daemon(env={"PYTHONPATH": str(installed)})
    client = first.wait_ready()
    req = CreateSession(
        task="one two three",
        model="counter:demo",
        image="none",
        policy="permissive",
        budget=Budget(max_steps=1),
    )
    sid = client.create_session(req).id
    assert wait_status(client, sid, "completed", "paused", "failed") == "paused"
    client.close()
    assert first.terminate() == 0, first.output()

    second = spawn_daemon()  # no plugin on its path
    client = second.wait_ready()
    try:
        with pytest.raises(ConflictError) as refused:
            client.resume(sid, ResumeSession(budget=Budget(max_steps=5)))
        said = str(refused.value)
        assert said.startswith(
            "this daemon does not have the tools word_count, line_count of the plugin "
            "agentctl-wordcount 1.0.0; the model provider counter of the plugin "
            "agentctl-wordcount 1.0.0, which the session uses: install it"
        )
        assert f"agentctl resume {sid}" in said
        assert client.session(sid).status.value == "paused"  # nothing changed
    finally:
        client.close()
        assert second.terminate() == 0, second.output()


def test_a_session_woken_by_a_decision_without_its_plugin_pauses_and_says_why(
    spawn_daemon: SpawnDaemon, installed: Path
) -> None:
    first = spawn_daemon(env={"PYTHONPATH": str(installed)})
    client = first.wait_ready()
    # the default policy asks about a tool it does not know: the session waits
    sid = client.create_session(CreateSession(task="a b", model="counter:x", image="none")).id
    assert wait_status(client, sid, "waiting", "completed", "failed") == "waiting"
    (approval,) = client.approvals()
    assert approval.tool == "word_count"
    client.close()
    assert first.terminate() == 0, first.output()

    second = spawn_daemon()
    client = second.wait_ready()
    try:
        client.decide(approval.id, Decide(decision="approve", approver="t"))
        assert wait_status(client, sid, "paused", "completed", "failed") == "paused"
        reason = client.session(sid).reason
        assert reason.startswith("this daemon does not have the tools word_count, line_count")
        assert not any(e.type == "tool.started" for e in client.events(sid))  # never ran
    finally:
        client.close()
        assert second.terminate() == 0, second.output()
