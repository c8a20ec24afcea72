"""Checkpoints through a real registry, restored on a second real engine (tcp + TLS)."""

from __future__ import annotations

import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sandboxes import DockerSandboxDriver, RegistryError, SandboxError, SandboxSpec, pack_folder
from tests.support.engine import SecondEngine
from tests.support.registry import RegistryServer
from tests.support.sandboxes import remove_streams

pytestmark = pytest.mark.docker


@pytest.fixture
def pushing(driver: DockerSandboxDriver, registry_server: RegistryServer) -> DockerSandboxDriver:
    """A driver of the machine's engine that pushes its checkpoints to the registry."""
    return DockerSandboxDriver(driver.client, registry=registry_server.address)


@pytest.fixture
def other(
    second_engine: SecondEngine, registry_server: RegistryServer
) -> Iterator[DockerSandboxDriver]:
    """A driver of the second engine, through the registry."""
    driver = DockerSandboxDriver(second_engine.client(), registry=registry_server.address)
    yield driver
    driver.client.close()


@pytest.fixture
def other_stream(other: DockerSandboxDriver) -> Iterator[Callable[[], str]]:
    made: list[str] = []

    def make() -> str:
        made.append(f"ses_R{uuid.uuid4().hex[:20].upper()}")
        return made[-1]

    yield make
    remove_streams(other, made)


def test_a_checkpoint_is_pushed_and_restored_on_another_engine(
    pushing: DockerSandboxDriver,
    other: DockerSandboxDriver,
    registry_server: RegistryServer,
    default_image: str,
    new_stream: Callable[[], str],
    other_stream: Callable[[], str],
    tmp_path: Path,
) -> None:
    stream = new_stream()
    sandbox = pushing.create(stream, SandboxSpec(image=default_image))
    assert sandbox.exec("echo from-engine-1 > made.txt").exit_code == 0
    began = time.monotonic()
    checkpoint = sandbox.checkpoint(3)
    pushed_s = time.monotonic() - began
    repo, tag = checkpoint.image.split(":")
    assert tag in registry_server.tags(repo)
    # the engine keeps only the plain name: the registry's name was a tag for the push
    refs = pushing.api.inspect_image(checkpoint.image)["RepoTags"]
    assert refs == [checkpoint.image], refs
    assert not other.has_image(checkpoint.image)

    # a second checkpoint of the same sandbox pushes only its new layer
    assert sandbox.exec("echo again >> made.txt").exit_code == 0
    began = time.monotonic()
    second = sandbox.checkpoint(5)
    pushed_again_s = time.monotonic() - began

    # another engine restores it: pulled, then named as here, with its labels
    forked = other_stream()
    began = time.monotonic()
    restored = other.restore(forked, SandboxSpec(image=default_image), second.image)
    pulled_s = time.monotonic() - began
    assert restored.exec("cat made.txt").output == "from-engine-1\nagain\n"
    # input over TLS (no half-close there): a file tool's content and a tar of a folder
    restored.write_file("typed.txt", "over tls\n")
    assert restored.read_file("typed.txt") == "over tls\n"
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "packed.txt").write_text("packed\n")
    with tempfile.TemporaryFile() as archive:
        pack_folder(folder, archive)
        archive.seek(0)
        restored.put_archive("/workspace", archive)
    assert restored.exec("cat packed.txt; id -u").output.split() == ["packed", "1000"]
    assert other.api.inspect_image(second.image)["RepoTags"] == [second.image]
    assert [(c.stream, c.seq) for c in other.list_checkpoints(stream)] == [(stream, 5)]
    # a checkpoint already on the engine is not pulled again
    assert other.ensure_image(second.image) is False
    print(
        f"push of the first checkpoint (base layers included) {pushed_s:.2f} s, "
        f"of the second {pushed_again_s:.2f} s; pull and restore on engine 2 {pulled_s:.2f} s"
    )


def test_a_push_to_a_stopped_registry_is_a_clear_error_and_a_retry_works(
    pushing: DockerSandboxDriver,
    registry_server: RegistryServer,
    default_image: str,
    new_stream: Callable[[], str],
) -> None:
    stream = new_stream()
    sandbox = pushing.create(stream, SandboxSpec(image=default_image))
    assert sandbox.exec("echo kept > kept.txt").exit_code == 0
    registry_server.stop()
    try:
        with pytest.raises(RegistryError) as raised:
            sandbox.checkpoint(2)
        message = str(raised.value)
        assert f"registry {registry_server.address}" in message
        assert "push agentctl-checkpoint:" in message
    finally:
        registry_server.start()
    # nothing was lost: the container is as it was, and the same checkpoint goes through now
    assert sandbox.exec("cat kept.txt").output == "kept\n"
    checkpoint = sandbox.checkpoint(2)
    repo, tag = checkpoint.image.split(":")
    assert tag in registry_server.tags(repo)


def test_an_image_in_neither_the_engine_nor_the_registry_is_a_clear_error(
    other: DockerSandboxDriver,
    registry_server: RegistryServer,
    default_image: str,
    other_stream: Callable[[], str],
) -> None:
    missing = "agentctl-checkpoint:ses_nowhere-1"
    with pytest.raises(RegistryError) as raised:
        other.restore(other_stream(), SandboxSpec(image=default_image), missing)
    assert f"pull {missing} through the registry {registry_server.address}" in str(raised.value)


@pytest.mark.parametrize("bad", ["http://127.0.0.1:5000", "127.0.0.1", "host:5000/path", "h:0"])
def test_a_registry_that_is_not_host_port_is_refused(bad: str, docker_client: Any) -> None:
    with pytest.raises(SandboxError, match="registry must be host:port"):
        DockerSandboxDriver(docker_client, registry=bad)


def test_the_engine_is_described_without_credentials() -> None:
    from sandboxes.address import describe_engine

    assert describe_engine({}) == "the default socket"
    assert describe_engine({"DOCKER_HOST": "unix:///run/docker.sock"}) == "unix:///run/docker.sock"
    tls = {"DOCKER_HOST": "tcp://u:secret@10.0.0.5:2376", "DOCKER_TLS_VERIFY": "1"}
    shown = describe_engine({**tls, "DOCKER_CERT_PATH": "/keys"})
    assert (
        shown
        == "tcp://10.0.0.5:2376 (TLS, engine certificate verified with DOCKER_CERT_PATH/ca.pem)"
    )
    assert "secret" not in shown and "/keys" not in shown
    assert "NOT verified" in describe_engine(
        {"DOCKER_HOST": "tcp://h:2376", "DOCKER_CERT_PATH": "/k"}
    )
    assert describe_engine({"DOCKER_HOST": "tcp://h:2375"}) == "tcp://h:2375 (plain TCP, no TLS)"
