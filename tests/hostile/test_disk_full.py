"""A full disk under the daemon: clear errors, the daemon answers, nothing is lost.

The daemon's home is a real tmpfs of a few megabytes (this needs root to
mount; CI runs as root). Artifacts that do not fit are not kept and the
result says so; appends the disk refuses are refused with a message; once
space is freed the same daemon goes on.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentctl.client import Client
from agentctl.errors import AgentctlError
from agentctl.paths import get_paths
from tests.support.daemon import DaemonProcess
from tests.support.hostile import events, run_to_end

from .server import HostileModelServer, completion, shell


@pytest.fixture
def small_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "small"
    home.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(home)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.decode().strip()}")
    monkeypatch.setenv("AGENTCTL_HOME", str(home))
    try:
        yield home
    finally:
        subprocess.run(["umount", "-l", str(home)], check=False)


@pytest.fixture
def small_daemon(small_home: Path, tmp_path: Path) -> Iterator[Client]:
    process = DaemonProcess(get_paths().ensure(), [], {}, tmp_path / "daemon.out")
    client = process.wait_ready()
    yield client
    client.close()
    process.terminate()


def test_a_full_disk_loses_artifacts_not_results(
    small_daemon: Client,
    small_home: Path,
    model: HostileModelServer,
    sessions_cleanup: list[str],
) -> None:
    flood = "head -c 6000000 /dev/zero | tr '\\0' a"
    model.send(completion("", [(f"c{i}", "shell", shell(flood)) for i in range(6)]))
    sid, status = run_to_end(small_daemon, model, image=None)
    sessions_cleanup.append(sid)
    assert status == "completed", small_daemon.session(sid).reason
    finished = [e.data for e in events(small_daemon, sid, "tool.finished")]
    assert all(f["exit_code"] == 0 for f in finished)
    lost = [f for f in finished if f["artifact"] is None]
    assert lost, "24 MB cannot hold six 6 MB outputs"
    assert all(
        "the whole output was not kept: No space left on device" in f["output"] for f in lost
    )

    # fill what is left: the log itself cannot grow now
    filler = small_home / "filler"
    subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=1M", "count=64"], capture_output=True)
    before = [e.model_dump() for e in events(small_daemon, sid)]
    try:
        model.send(completion("hello " * 20_000))
        try:
            _, status2 = run_to_end(small_daemon, model)
        except AgentctlError as exc:  # refused at create: a clear message, no traceback
            assert "the event log refused an append" in str(exc)
            assert "No space left on device" in str(exc)
        else:
            assert status2 in ("paused", "failed", "completed"), status2
        assert small_daemon.health().ok  # the daemon answers throughout
        assert [e.model_dump() for e in events(small_daemon, sid)] == before  # nothing lost
    finally:
        filler.unlink()
    os.sync()
    model.send(completion("after"))
    _, status3 = run_to_end(small_daemon, model)
    assert status3 == "completed"  # the same daemon, with space again
