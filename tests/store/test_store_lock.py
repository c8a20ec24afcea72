"""The single-writer lock file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from store import LockHeldError, StoreError, WriterLock

REPO = Path(__file__).resolve().parents[2]


def test_acquire_writes_the_holders_pid(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "events.lock"
    lock = WriterLock(path)
    assert WriterLock.holder_pid(path) is None
    lock.acquire()
    assert lock.held
    assert WriterLock.holder_pid(path) == os.getpid()
    lock.release()
    lock.release()  # idempotent
    assert not lock.held
    assert WriterLock.holder_pid(path) is None
    assert path.exists()  # never deleted: deleting a lock file is how two writers get one


def test_a_second_lock_on_the_same_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "events.lock"
    with WriterLock(path):
        contender = WriterLock(path)
        with pytest.raises(LockHeldError) as caught:
            contender.acquire()
        assert caught.value.pid == os.getpid()
        assert caught.value.path == path
        assert f"locked by process {os.getpid()}" in str(caught.value)
        assert not contender.held
        assert WriterLock.holder_pid(path) == os.getpid()
    with WriterLock(path) as again:
        assert again.held


def test_acquiring_twice_is_a_bug(tmp_path: Path) -> None:
    with WriterLock(tmp_path / "events.lock") as lock, pytest.raises(StoreError):
        lock.acquire()


def test_an_unknown_holder_is_said_so(tmp_path: Path) -> None:
    error = LockHeldError(tmp_path / "x.lock", None)
    assert "pid unknown" in str(error)


def test_the_lock_dies_with_its_holder(tmp_path: Path) -> None:
    path = tmp_path / "events.lock"
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from store import WriterLock; WriterLock(sys.argv[1]).acquire(); "
            "print('ready', flush=True); time.sleep(60)",
            str(path),
        ],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        with pytest.raises(LockHeldError) as caught:
            WriterLock(path).acquire()
        assert caught.value.pid == child.pid
        assert str(child.pid) in str(caught.value)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        child.kill()
        child.communicate()
    with WriterLock(path):
        assert WriterLock.holder_pid(path) == os.getpid()
