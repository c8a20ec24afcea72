"""The README's three things, for real: the demo in a Docker sandbox, approved from
another client, forked from a checkpoint; and the README's jq pipeline."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator

import pytest

from agentctl.client import Client
from tests.support.cli import Run
from tests.support.daemon import wait_status

pytestmark = pytest.mark.docker

DEMO = ("--model", "replay:recordings/demo.jsonl", "--workspace", "recordings/demo/workspace")


@pytest.fixture
def cleanup(docker_client: object, daemon: Client) -> Iterator[None]:
    """Remove the containers and checkpoint images of this test's sessions (nothing else)."""
    yield
    from sandboxes import DockerSandboxDriver

    driver = DockerSandboxDriver()
    for session in daemon.sessions():
        try:
            driver.remove_stream(session.id)
            for checkpoint in driver.list_checkpoints(session.id):
                driver.client.images.remove(checkpoint.image, force=True)
        except Exception as exc:  # cleanup must not hide the test's result
            print(f"cleanup of {session.id}: {exc}", file=sys.stderr)


def test_the_readme_pipeline(daemon: Client, sh: Run, cleanup: None) -> None:
    result = sh(
        'echo "fix the tests" | agentctl run - --model replay:recordings/demo.jsonl '
        "--workspace recordings/demo/workspace --policy permissive --json "
        """| jq -c 'select(.type == "tool.finished") | {seq, exit_code: .data.exit_code}'"""
    )
    assert result.returncode == 0, result.stderr
    codes = [json.loads(line)["exit_code"] for line in result.stdout.splitlines()]
    assert 1 in codes and codes[-1] == 0  # the test failed once, and passes after the fix


def test_run_approve_from_another_client_and_fork(
    daemon: Client, cli: Run, sh: Run, cleanup: None
) -> None:
    # run a task (detached here; in a terminal it asks inline)
    sid = cli("run", "The tests fail. Fix them.", *DEMO, "--detach").stdout.strip()
    wait_status(daemon, sid, "waiting", timeout=120)
    # approve from another terminal, as the README shows
    [approval] = daemon.approvals(session=sid)
    listed = cli("approvals")
    assert approval.id in listed.stdout and "edit_file" in listed.stdout
    assert cli("approve", approval.id, "--as", "alice").returncode == 0
    attached = cli("attach", sid, timeout=120)
    assert attached.returncode == 0, attached.stderr
    assert "(as alice)" in attached.stdout and "Ran 3 tests" in attached.stdout
    # fork from a checkpoint: `log` shows where
    checkpoints = [
        line.split()[0] for line in cli("log", sid).stdout.splitlines() if "◆ checkpoint" in line
    ]
    at = checkpoints[-2]  # after the fix, before the tests ran again
    forked = cli("fork", sid, "--at", at, "Run the tests once more", timeout=120)
    assert forked.returncode == 0, forked.stderr
    assert "Run the tests once more" in forked.stdout and "OK" in forked.stdout
    fork_id = next(s.id for s in daemon.sessions() if s.parent is not None)
    tree = cli("tree", sid).stdout
    assert f"@{at} {fork_id}" in tree


def test_sandbox_build_ls_and_gc_of_this_daemons_ended_sessions(
    daemon: Client, cli: Run, sh: Run, cleanup: None
) -> None:
    built = cli("sandbox", "build")  # the image exists: a no-op that prints its tag
    assert built.returncode == 0 and built.stdout.startswith("agentctl-default:")
    run = cli("run", "fix the tests", *DEMO, "--policy", "permissive", timeout=120)
    assert run.returncode == 0, run.stderr
    [session] = daemon.sessions()
    listed = sh(f"agentctl sandbox ls --session {session.id} --json | jq -r '.[].image'")
    images = listed.stdout.split()
    assert len(images) >= 2 and all(session.id.lower() in image for image in images)
    assert session.id in cli("sandbox", "ls", "--session", session.id).stdout
    gc = sh("agentctl sandbox gc --json | jq -r '.removed[]'")
    assert gc.returncode == 0, gc.stderr
    assert set(images) <= set(gc.stdout.split())
    assert cli("sandbox", "ls", "--session", session.id).stdout.strip() == "no checkpoints"
