"""A daemon whose engine is at DOCKER_HOST=ssh://: sandboxed tools run through an SSH channel.

A real OpenSSH server on a private loopback port (tests/support/sshd.py), a
client HOME whose `.ssh` names the key and knows the host, and the machine's
own engine on the far side (`docker system dial-stdio` in the ssh session).
The shell tool's output, a file written with input on the command's stdin
(the half-close over the channel), and a file read back all go through it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from agentctl.protocol import CreateSession
from tests.support.daemon import SpawnDaemon, reply, wait_status
from tests.support.sshd import SshServer

pytestmark = pytest.mark.docker


@pytest.fixture
def sshd() -> Iterator[SshServer]:
    server = SshServer().start()
    yield server
    server.stop()


def test_a_daemon_drives_its_sandboxes_through_an_ssh_engine(
    spawn_daemon: SpawnDaemon,
    recording: Any,
    sshd: SshServer,
    docker_client: Any,
    sessions_cleanup: list[str],
) -> None:
    content = "hello over ssh\n" * 2000  # 30 KB on the command's stdin
    model = recording(
        [
            reply("run", ("shell", {"command": "echo ran-over-ssh; uname -s"})),
            reply("write", ("write_file", {"path": "g.txt", "content": content}), step=1),
            reply("count", ("shell", {"command": "wc -c < g.txt"}), step=2),
            reply("read", ("read_file", {"path": "g.txt"}), step=3),
            reply("done", step=4),
        ]
    )
    process = spawn_daemon(env={"DOCKER_HOST": sshd.docker_host, "HOME": str(sshd.home)})
    with process.wait_ready() as client:
        assert client.status().engine == f"ssh://127.0.0.1:{sshd.port}"  # no user shown
        sid = client.create_session(CreateSession(task="t", model=model, policy="permissive")).id
        sessions_cleanup.append(sid)
        wait_status(client, sid, "completed", timeout=180)
        finished = [e.data for e in client.events(sid) if e.type == "tool.finished"]
    assert process.terminate() == 0, process.output()
    assert [f["error"] for f in finished] == [None] * 4, finished
    assert finished[0]["output"].split() == ["ran-over-ssh", "Linux"]
    assert finished[2]["output"].strip() == str(len(content))
    assert content[:1000] in finished[3]["output"]
    assert "Accepted publickey for root" in sshd.log.read_text()  # it did go through sshd
