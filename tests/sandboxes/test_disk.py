"""The writable layer's bounds the watchdog keeps: bytes where the engine has
none, and the number of files everywhere (no storage driver bounds inodes)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from sandboxes import DockerSandboxDriver, SandboxSpec

pytestmark = pytest.mark.docker


def test_the_two_ways_of_counting_files_agree(
    driver: DockerSandboxDriver, default_image: str, new_stream: Callable[[], str]
) -> None:
    sandbox = driver.create(new_stream(), SandboxSpec(image=default_image))
    before = sandbox.layer_files()
    # 300 files, a folder 1,500 deep (counted without recursion) and a link out of the layer
    made = sandbox.exec(
        "mkdir /tmp/n && cd /tmp/n && seq 1 300 | xargs touch && "
        "d=/tmp/deep; for i in $(seq 1 1500); do d=$d/x; done; mkdir -p $d && "
        "ln -s / /tmp/root && echo ok"
    )
    assert made.exit_code == 0, made.output
    walked = sandbox.layer_files()
    assert sandbox._upper_dir is not None  # this daemon runs as root beside a local engine
    sandbox._upper_dir = None  # as a daemon that cannot see the engine's files
    listed = sandbox.layer_files()
    assert walked == listed
    assert walked - before >= 300 + 1 + 1500 + 1 + 1  # files, /tmp/n, the folders, the link


def test_the_walk_sizes_the_layer_as_the_engine_does(
    driver: DockerSandboxDriver, default_image: str, new_stream: Callable[[], str]
) -> None:
    sandbox = driver.create(new_stream(), SandboxSpec(image=default_image))
    made = sandbox.exec(
        "head -c 1048576 /dev/urandom > /tmp/one && ln /tmp/one /tmp/same && "
        "ln -s /tmp/one /tmp/link && mkdir -p /tmp/d && echo hi > /tmp/d/f && echo ok"
    )
    assert made.exit_code == 0 and made.output.strip() == "ok", made.output
    assert sandbox._upper() is not None
    walked = sandbox.layer_usage()
    assert walked[0] == sandbox._engine_size()  # a hard link counted once, as the engine does
    assert 1 << 20 <= walked[0] < 2 << 20  # the megabyte, once


def test_a_found_again_sandbox_keeps_its_file_bound(
    driver: DockerSandboxDriver, default_image: str, new_stream: Callable[[], str]
) -> None:
    stream = new_stream()
    driver.create(stream, SandboxSpec(image=default_image, files=1234))
    found = driver.find(stream)
    assert found is not None and found.file_watch_count == 1234
    result = found.exec("mkdir /tmp/m && cd /tmp/m && seq 1 2000 | xargs touch; echo done")
    assert result.disk_exceeded
    assert "over its limit of 1,234 files" in result.output
    freed = found.exec("rm -rf /tmp/m && echo freed")
    assert not freed.disk_exceeded and freed.output.strip() == "freed"


def test_no_file_bound_no_watch(
    driver: DockerSandboxDriver, default_image: str, new_stream: Callable[[], str]
) -> None:
    sandbox = driver.create(new_stream(), SandboxSpec(image=default_image, files=None))
    result = sandbox.exec("mkdir /tmp/m && cd /tmp/m && seq 1 3000 | xargs touch; echo done")
    assert not result.disk_exceeded and result.output.strip() == "done"
