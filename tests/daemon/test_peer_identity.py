"""Approver identity from SO_PEERCRED, with two real OS users.

The test creates a Unix group and a second user in it (it runs as root), and
lets that user reach the daemon's socket on purpose: the daemon keeps its
socket 0600 in a 0700 folder, so the test hard-links the socket into a folder
of its own (mode 0750, group = the test group) and gives the socket's inode
mode 0660 with that group. What that trusts: every member of the group gets
the daemon's whole API, exactly as the owner has it — the socket is the
boundary, and approver rules decide only who may decide which approval. The
link and the users are removed at the end.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agentctl.client import Client
from agentctl.errors import ForbiddenError
from agentctl.paths import Paths
from agentctl.protocol import CreateSession, Decide
from tests.support.daemon import Response, reply, wait_status

USER = "t21bob"
GROUP = "t21oncall"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("useradd") is None or shutil.which("runuser") is None,
    reason="needs root, useradd and runuser to make a second OS user",
)


@pytest.fixture
def second_user() -> Iterator[str]:
    made_group = made_user = False
    try:
        grp.getgrnam(GROUP)
    except KeyError:
        subprocess.run(["groupadd", GROUP], check=True)
        made_group = True
    try:
        pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(
            ["useradd", "-M", "-N", "-s", "/usr/sbin/nologin", "-G", GROUP, USER], check=True
        )
        made_user = True
    yield USER
    if made_user:
        subprocess.run(["userdel", USER], check=False)
    if made_group:
        subprocess.run(["groupdel", GROUP], check=False)


@pytest.fixture
def shared_socket(daemon: Client, paths: Paths, second_user: str) -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="agentctl-peer-"))
    gid = grp.getgrnam(GROUP).gr_gid
    os.chown(folder, 0, gid)
    folder.chmod(0o750)
    link = folder / "agentctl.sock"
    os.link(
        paths.socket, link
    )  # the same socket (inode), reachable from a folder the group may enter
    os.chown(link, 0, gid)
    link.chmod(0o660)
    yield link
    shutil.rmtree(folder, ignore_errors=True)


def decide_as(
    user: str, socket: Path, approval: str, claimed: str
) -> tuple[int, dict[str, object]]:
    body = json.dumps({"decision": "approve", "approver": claimed, "reason": "looks fine"})
    done = subprocess.run(
        [
            "runuser",
            "-u",
            user,
            "--",
            "curl",
            "-sS",
            "--unix-socket",
            str(socket),
            "-X",
            "POST",
            f"http://agentctl/v1/approvals/{approval}",
            "-H",
            "content-type: application/json",
            "-d",
            body,
            "-w",
            "\n%{http_code}",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    text, _, code = done.stdout.rpartition("\n")
    return int(code), json.loads(text)


def test_the_approver_is_the_peer_user_and_only_named_approvers_may_decide(
    daemon: Client, shared_socket: Path, tmp_path: Path, recording: Callable[[list[Response]], str]
) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text(
        '[[rule]]\ntool = "wait"\ntier = "ask"\napprovers = ["group:t21oncall"]\n'
        '[[rule]]\ntool = "*"\ntier = "allow"\n'
    )
    model = recording([reply("pause a bit", ("wait", {"seconds": 0.01})), reply("done", step=1)])
    created = daemon.create_session(
        CreateSession(task="wait for it", model=model, image="none", policy=str(policy))
    )
    wait_status(daemon, created.id, "waiting")
    [approval] = daemon.approvals(session=created.id)
    assert approval.approvers == ["group:t21oncall"]

    # root is not in the group: refused, and told who may decide and who it is.
    with pytest.raises(ForbiddenError) as refused:
        daemon.decide(approval.id, Decide(decision="approve", approver="t21bob"))  # a false claim
    message = str(refused.value)
    assert "only by group:t21oncall" in message and "you are root (verified" in message

    code, event = decide_as(USER, shared_socket, approval.id, claimed="alice")
    assert code == 200, event
    data = event["data"]
    assert isinstance(data, dict)
    assert data["approver"] == USER and data["verified_user"] == USER
    assert data["claimed"] == "alice" and data["via"] == "socket"
    assert wait_status(daemon, created.id, "completed") == "completed"
