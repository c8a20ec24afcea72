"""Create, find, pause, checkpoint, restore, fork, gc: the life of a sandbox."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta

import pytest

from sandboxes import (
    Checkpoint,
    DockerSandboxDriver,
    ImageNotFoundError,
    SandboxError,
    SandboxGoneError,
    SandboxSpec,
)

pytestmark = pytest.mark.docker

NewStream = Callable[[], str]


def containers_of(driver: DockerSandboxDriver, stream: str) -> list[dict[str, object]]:
    found: list[dict[str, object]] = driver.api.containers(
        all=True, filters={"label": f"{driver.label_key}={stream}"}
    )
    return found


def test_a_missing_image_is_a_typed_error_and_leaves_nothing(
    driver: DockerSandboxDriver, new_stream: NewStream
) -> None:
    stream = new_stream()
    with pytest.raises(
        ImageNotFoundError, match="agentctl-nope:missing is not in the Docker engine"
    ):
        driver.create(stream, SandboxSpec(image="agentctl-nope:missing"))
    assert containers_of(driver, stream) == []
    assert driver.find(stream) is None


def test_a_failed_create_leaves_nothing(
    driver: DockerSandboxDriver, default_image: str, new_stream: NewStream, tmp_path: object
) -> None:
    stream = new_stream()
    with pytest.raises(SandboxError):  # an unknown network fails at start
        driver.create(stream, SandboxSpec(image=default_image, network="no-such-network-xyz"))
    assert containers_of(driver, stream) == []


def test_create_find_and_destroy(
    driver: DockerSandboxDriver, default_image: str, new_stream: NewStream
) -> None:
    stream = new_stream()
    sandbox = driver.create(stream, SandboxSpec(image=default_image, labels={"team": "qa"}))
    assert sandbox.name == f"agentctl-{stream.lower()}" and sandbox.stream == stream
    assert sandbox.is_running() and sandbox.status() == "running"
    labels = driver.api.inspect_container(sandbox.container_id)["Config"]["Labels"]
    assert labels[driver.label_key] == stream and labels["team"] == "qa"
    with pytest.raises(SandboxError, match="already exists"):
        driver.create(stream, SandboxSpec(image=default_image))

    again = driver.find(stream)  # as after a daemon restart: a fresh handle by label
    assert again is not None and again.container_id == sandbox.container_id
    assert again.exec("whoami").output == "agent\n"

    driver.api.stop(sandbox.container_id, timeout=1)  # as after an engine restart
    revived = driver.find(stream)
    assert revived is not None and revived.is_running()

    sandbox.destroy()
    sandbox.destroy()  # idempotent
    assert sandbox.status() == "removed"
    assert driver.find(stream) is None
    with pytest.raises(SandboxGoneError):
        sandbox.exec("true")


def test_pause_and_unpause(
    driver: DockerSandboxDriver, default_image: str, new_stream: NewStream
) -> None:
    sandbox = driver.create(new_stream(), SandboxSpec(image=default_image))
    sandbox.pause()
    sandbox.pause()  # idempotent
    assert sandbox.status() == "paused" and not sandbox.is_running()
    with pytest.raises(SandboxError, match="paused"):
        sandbox.exec("true")
    sandbox.unpause()
    sandbox.unpause()
    assert sandbox.is_running()
    assert sandbox.exec("echo back").output == "back\n"


def test_checkpoints_are_labelled_and_listed(
    driver: DockerSandboxDriver, default_image: str, new_stream: NewStream
) -> None:
    stream = new_stream()
    sandbox = driver.create(stream, SandboxSpec(image=default_image))
    sandbox.write_file("a.txt", "one")
    first = sandbox.checkpoint(3)
    sandbox.write_file("a.txt", "two")
    second = sandbox.checkpoint(7)
    assert first.image == f"agentctl-checkpoint:{stream.lower()}-3"
    assert (first.stream, first.seq, second.seq) == (stream, 3, 7)
    assert first.size > 0 and first.created.tzinfo is not None
    labels = driver.api.inspect_image(first.image)["Config"]["Labels"]
    assert labels[driver.label_key] == stream and labels[f"{driver.label_key}.seq"] == "3"
    listed = driver.list_checkpoints(stream)
    assert [(c.image, c.seq) for c in listed] == [(first.image, 3), (second.image, 7)]
    assert all(isinstance(c, Checkpoint) for c in driver.list_checkpoints())
    assert {c.image for c in driver.list_checkpoints()} >= {first.image, second.image}


def test_a_removed_container_is_restored_from_its_latest_checkpoint(
    driver: DockerSandboxDriver, default_image: str, new_stream: NewStream
) -> None:
    stream = new_stream()
    spec = SandboxSpec(image=default_image)
    sandbox = driver.create(stream, spec)
    sandbox.write_file("src/app.py", "print('v1')\n")
    sandbox.checkpoint(1)
    sandbox.write_file("src/app.py", "print('v2')\n")
    sandbox.exec("git init -q . && echo done")
    sandbox.checkpoint(2)

    driver.client.api.remove_container(sandbox.container_id, force=True)  # behind our back
    assert driver.find(stream) is None

    latest = driver.list_checkpoints(stream)[-1]
    restored = driver.restore(stream, spec, latest.image)
    assert restored.name == sandbox.name and restored.container_id != sandbox.container_id
    assert restored.exec("python3 src/app.py").output == "v2\n"
    assert restored.file_exists(".git/HEAD")
    assert restored.exec("whoami").output == "agent\n"
    found = driver.find(stream)
    assert found is not None and found.container_id == restored.container_id
    config = driver.api.inspect_container(restored.container_id)["HostConfig"]
    assert config["CapDrop"] == ["ALL"] and config["NetworkMode"] == "none"


def test_a_fork_sees_the_files_of_its_checkpoint_only(
    driver: DockerSandboxDriver, default_image: str, new_stream: NewStream
) -> None:
    parent, child = new_stream(), new_stream()
    spec = SandboxSpec(image=default_image)
    sandbox = driver.create(parent, spec)
    sandbox.write_file("state.txt", "at checkpoint\n")
    checkpoint = sandbox.checkpoint(5)
    sandbox.write_file("state.txt", "later\n")
    sandbox.write_file("later.txt", "later\n")

    fork = driver.restore(child, spec, checkpoint.image)
    assert fork.read_file("state.txt") == "at checkpoint\n"
    assert not fork.file_exists("later.txt")
    fork.write_file("fork-only.txt", "x")
    assert not sandbox.file_exists("fork-only.txt")
    assert sandbox.read_file("state.txt") == "later\n"  # the parent is untouched
    fork_labels = driver.api.inspect_container(fork.container_id)["Config"]["Labels"]
    assert fork_labels[driver.label_key] == child
    found_parent = driver.find(parent)
    assert found_parent is not None and found_parent.container_id == sandbox.container_id
    # A checkpoint of the fork belongs to the fork.
    assert fork.checkpoint(1).stream == child
    assert [c.seq for c in driver.list_checkpoints(child)] == [1]
    assert [c.seq for c in driver.list_checkpoints(parent)] == [5]


def test_restore_from_a_missing_image(
    driver: DockerSandboxDriver, default_image: str, new_stream: NewStream
) -> None:
    with pytest.raises(ImageNotFoundError):
        driver.restore(new_stream(), SandboxSpec(image=default_image), "agentctl-checkpoint:nope-1")


def test_gc_removes_checkpoints_and_stopped_containers_of_dropped_streams(
    driver: DockerSandboxDriver, default_image: str, new_stream: NewStream
) -> None:
    # A namespace of its own, so gc cannot touch the streams of concurrent tests.
    ns = uuid.uuid4().hex[:8]
    own = DockerSandboxDriver(
        driver.client,
        label_key=f"gc{ns}.stream",
        name_prefix=f"gc{ns}-",
        checkpoint_repo=f"gc{ns}-checkpoint",
    )
    kept, dropped = new_stream(), new_stream()
    spec = SandboxSpec(image=default_image)
    try:
        keep_box = own.create(kept, spec)
        drop_box = own.create(dropped, spec)
        keep_box.write_file("k.txt", "k")
        drop_box.write_file("d.txt", "d" * 100_000)
        kept_cp = keep_box.checkpoint(1)
        dropped_cp = drop_box.checkpoint(1)
        driver.api.stop(drop_box.container_id, timeout=1)

        assert own.gc([kept], older_than=timedelta(days=1)).removed == []
        report = own.gc([kept])
        assert sorted(report.removed) == sorted([dropped_cp.image, drop_box.name])
        assert report.freed_bytes >= 100_000
        assert own.list_checkpoints(dropped) == []
        assert [c.image for c in own.list_checkpoints(kept)] == [kept_cp.image]
        assert keep_box.is_running()  # live containers are never collected
    finally:
        for stream in (kept, dropped):
            own.remove_stream(stream)
        own.gc([])
        assert own.list_checkpoints() == []


def test_remove_stream_keeps_checkpoints(
    driver: DockerSandboxDriver, default_image: str, new_stream: NewStream
) -> None:
    stream = new_stream()
    sandbox = driver.create(stream, SandboxSpec(image=default_image))
    checkpoint = sandbox.checkpoint(1)
    driver.remove_stream(stream)
    driver.remove_stream(stream)
    assert driver.find(stream) is None
    assert driver.list_checkpoints(stream) == [checkpoint]
