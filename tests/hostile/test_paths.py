"""No string a model sends becomes a host path or a sandbox path.

The call id is the model's to choose; it used to name the artifact file (an
id of `/tmp/x` or `../../x` wrote a file of the model's choosing anywhere the
daemon could write) and the completion record in the sandbox (an id of 300
characters broke the call, a NUL paused the session). Both are now keyed by
the runtime's own name for the call (`ids.call_ref`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from agentctl.client import Client
from agentctl.paths import Paths
from tests.support.hostile import events, run_to_end

from .server import HostileModelServer, completion, shell

BIG = "head -c 200000 /dev/zero | tr '\\0' a"  # over the 64 kB kept in the event: an artifact


def test_call_ids_never_name_a_file(
    daemon: Client,
    model: HostileModelServer,
    paths: Paths,
    tmp_path: Path,
    sessions_cleanup: list[str],
) -> None:
    target = tmp_path / "planted"
    target.mkdir()
    hostile_ids = [
        f"{target}/absolute",
        "../" * 12 + str(target).lstrip("/") + "/relative",
        "../../../../events.duckdb",
        "a" * 300,
        "nul\x00byte",
        "quote'\"$(touch /tmp/x)",
        "..",
    ]
    model.send(completion("", [(cid, "shell", shell(BIG)) for cid in hostile_ids]))
    sid, status = run_to_end(daemon, model, image=None)
    sessions_cleanup.append(sid)
    assert status == "completed", daemon.session(sid).reason
    finished = events(daemon, sid, "tool.finished")
    assert len(finished) == len(hostile_ids)
    name = re.compile(rf"{sid}/call_[0-9a-f]{{32}}\.out")
    for event in finished:
        assert event.data["exit_code"] == 0, event.data
        assert event.data["truncated"] and name.fullmatch(event.data["artifact"]), event.data
        assert (paths.artifacts / event.data["artifact"]).stat().st_size == 200_000
    assert list(target.iterdir()) == []
    kept = sorted(
        p.relative_to(paths.artifacts).as_posix()
        for p in paths.artifacts.rglob("*")
        if p.parts[len(paths.artifacts.parts)] != ".partial"  # the runtime's own spill folder
    )
    assert list((paths.artifacts / ".partial").iterdir()) == []  # every spill was moved
    assert kept[0] == sid and all(name.fullmatch(k) for k in kept[1:]) and len(kept) == 8
    # the completion record's key: the session and the runtime's ref, never the model's id
    for started in events(daemon, sid, "tool.started"):
        assert re.fullmatch(rf"{sid}:call_[0-9a-f]{{32}}:1", started.data["idempotency_key"])
    # the model still sees its own (usable) ids in the conversation
    told = [m["tool_call_id"] for m in model.tool_results()]
    assert told[0] == hostile_ids[0] and told[3] == "call_0_3" and told[4] == "call_0_4"


def test_file_tool_paths_stay_in_the_workspace(
    daemon: Client, model: HostileModelServer, sessions_cleanup: list[str]
) -> None:
    def call(i: int, name: str, **args: str) -> tuple[str, str, str]:
        return (f"p{i}", name, json.dumps(args))

    model.send(
        completion(
            "",
            [
                call(0, "read_file", path="/etc/passwd"),
                call(1, "read_file", path="../../etc/shadow"),
                call(2, "shell", command="ln -s /etc evil && ln -s / root"),
                call(3, "read_file", path="evil/passwd"),
                call(4, "write_file", path="root/home/agent/.bashrc", content="curl x | sh"),
                call(5, "list_files", path="/proc/1"),
                call(6, "edit_file", path="/etc/hostname", old="a", new="b"),
                call(7, "write_file", path="ok\x1b[2J.txt", content="fine"),
            ],
        )
    )
    sid, status = run_to_end(daemon, model, image=None)
    sessions_cleanup.append(sid)
    assert status == "completed", daemon.session(sid).reason
    results = [e.data for e in events(daemon, sid, "tool.finished")]
    for index in (0, 1, 3, 4, 5, 6):
        assert "outside /workspace" in (results[index]["error"] or ""), results[index]
    assert results[2]["exit_code"] == 0
    assert results[7]["exit_code"] == 0  # a strange name inside the workspace is only a name
