"""`agentctl gc`: old ended sessions lose their checkpoints and artifacts, never an event."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agentctl.client import Client
from agentctl.paths import Paths
from agentctl.protocol import CreateSession, ForkSession, GcResult, SqlQuery
from sandboxes import DockerSandboxDriver
from tests.support.daemon import wait_status
from tests.support.observe import Cli, call, final

pytestmark = pytest.mark.docker


def all_events(daemon: Client) -> list[list[Any]]:
    return daemon.sql(SqlQuery(sql='SELECT * FROM events ORDER BY "offset"', limit=None)).rows


def images(sid: str) -> list[str]:
    return [cp.image for cp in DockerSandboxDriver().list_checkpoints(sid)]


def test_gc_frees_old_ended_sessions_and_spares_what_is_live(
    daemon: Client, cli: Cli, recording: Any, paths: Paths, sessions_cleanup: list[str]
) -> None:
    parent_model = recording(
        "parent", [call("shell", {"command": "echo hi > f.txt"}, "p1"), final()]
    )
    noisy_model = recording(
        "noisy",
        [
            call("shell", {"command": "seq 1 200000"}, "n1"),  # over the output cap: an artifact
            call("shell", {"command": "touch y"}, "n2"),
            final(),
        ],
    )
    parent = daemon.create_session(
        CreateSession(task="p", model=parent_model, policy="permissive")
    ).id
    sessions_cleanup.append(parent)
    noisy = daemon.create_session(
        CreateSession(task="n", model=noisy_model, policy="permissive")
    ).id
    sessions_cleanup.append(noisy)
    for sid in (parent, noisy):
        assert wait_status(daemon, sid, "completed", "failed", "paused", timeout=180) == "completed"
    # a live fork of the parent, waiting for a person, started from the parent's checkpoint
    checkpoint_seq = next(e.seq for e in daemon.events(parent) if e.type == "checkpoint.created")
    fork_model = recording("fork", [call("shell", {"command": "rm f.txt"}, "f1")])
    fork = daemon.fork(
        parent, ForkSession(at=checkpoint_seq, model=fork_model, policy="default")
    ).id
    sessions_cleanup.append(fork)
    assert wait_status(daemon, fork, "waiting", timeout=180) == "waiting"

    parent_images, noisy_images = images(parent), images(noisy)
    assert len(parent_images) == 1 and len(noisy_images) == 2
    artifacts = paths.artifacts / noisy
    assert any(artifacts.iterdir())
    artifact_bytes = sum(f.stat().st_size for f in artifacts.iterdir())
    events_before = all_events(daemon)

    dry = cli("gc", "--older-than", "0s", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    planned = GcResult.model_validate_json(dry.stdout)
    assert planned.dry_run and planned.sessions == sorted([parent, noisy])
    assert planned.images == sorted(noisy_images) and planned.kept_images == parent_images
    assert images(noisy) == noisy_images and artifacts.is_dir()  # a dry run removes nothing

    recent = json.loads(cli("gc", "--older-than", "1d", "--json").stdout)
    assert recent["sessions"] == [] and recent["freed_bytes"] == 0

    result = cli("gc", "--older-than", "0s", "--json")
    assert result.returncode == 0, result.stderr
    done = GcResult.model_validate_json(result.stdout)
    assert done.sessions == sorted([parent, noisy])
    assert sorted(done.images) == sorted(noisy_images)
    assert done.artifacts == [f"{noisy}/"] and done.artifacts_bytes == artifact_bytes
    assert done.kept_images == parent_images  # the live fork still needs it
    assert done.freed_bytes == done.images_bytes + done.artifacts_bytes > artifact_bytes
    assert images(noisy) == [] and not artifacts.exists()
    assert images(parent) == parent_images
    assert all_events(daemon) == events_before  # every event kept
    assert daemon.session(fork).status.value == "waiting"
    assert DockerSandboxDriver().find(fork) is not None  # the fork's container is untouched

    said = cli("gc", "--older-than", "0s")
    assert said.returncode == 0 and "freed 0 B" in said.stdout and "kept 1 images" in said.stdout
    assert cli("gc", "--older-than", "soon").returncode == 2
