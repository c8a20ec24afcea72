"""Resource exhaustion and escapes from inside the sandbox: contained, explained, survivable.

Each session runs real commands in the real default image; after each attack
the sandbox (and the daemon) still serve the next command.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

from agentctl.client import Client
from agentctl.paths import Paths
from agentctl.protocol import Limits
from tests.support.cli import Run
from tests.support.daemon import SpawnDaemon
from tests.support.hostile import assert_alive, events, run_to_end

from .server import HostileModelServer, completion


def outputs(client: Client, sid: str) -> list[str]:
    return [
        str(e.data.get("output", "")) + str(e.data.get("error") or "")
        for e in events(client, sid, "tool.finished")
    ]


def one_step(*commands: str | tuple[str, float]) -> dict[str, object]:
    calls = []
    for i, command in enumerate(commands):
        text, timeout = (command, None) if isinstance(command, str) else command
        args = {"command": text} if timeout is None else {"command": text, "timeout_s": timeout}
        calls.append((f"c{i}", "shell", json.dumps(args)))
    return completion("", calls)


def test_disk_is_bounded(
    daemon: Client, model: HostileModelServer, sessions_cleanup: list[str]
) -> None:
    model.send(
        one_step(
            "fallocate -l 400M /tmp/big && echo allocated",
            (
                "for i in $(seq 1 100); do head -c 10M /dev/zero > /tmp/f$i; sleep 0.1; done; echo all",
                60,
            ),
            "rm -f /tmp/big /tmp/f* && echo freed",
            "echo still here",
        )
    )
    sid, status = run_to_end(daemon, model, image=None, limits=Limits(disk_mb=128))
    sessions_cleanup.append(sid)
    assert status == "completed", daemon.session(sid).reason
    fallocate, loop, freed, after = outputs(daemon, sid)
    assert "over its disk limit of 128 MB: delete files before writing more" in fallocate
    assert "[killed: the sandbox's files reached" in loop and "all" not in loop
    assert "freed" in freed and "disk limit" not in freed
    assert after.startswith("still here") and "disk limit" not in after


def test_files_are_bounded(
    daemon: Client, model: HostileModelServer, sessions_cleanup: list[str]
) -> None:
    """Empty files use no bytes but the host's inodes: their number is bounded too."""
    slow = (
        "for d in $(seq 1 200); do mkdir -p /tmp/s/$d && cd /tmp/s/$d && seq 1 100 | xargs touch; "
        "sleep 0.05; done; echo all"
    )
    model.send(
        one_step(
            "mkdir /tmp/m && cd /tmp/m && seq 1 5000 | xargs touch && echo made",
            "rm -rf /tmp/m && echo freed",
            (slow, 60),
            "rm -rf /tmp/s && echo still here",
        )
    )
    sid, status = run_to_end(daemon, model, image=None, limits=Limits(files=2000))
    sessions_cleanup.append(sid)
    assert status == "completed", daemon.session(sid).reason
    burst, freed, loop, after = outputs(daemon, sid)
    # done before the first look, or killed by it: either way over and told so
    assert "over its limit of 2,000 files: delete files before making more" in burst
    assert "freed" in freed and "files" not in freed
    assert "[killed: the sandbox holds" in loop and "all" not in loop
    assert after.startswith("still here") and "limit" not in after
    assert_alive(daemon)


def test_pids_memory_and_output_are_bounded(
    daemon: Client, model: HostileModelServer, paths: Paths, sessions_cleanup: list[str]
) -> None:
    model.send(
        one_step(
            (":(){ :|:& };:", 5),
            "echo alive after the fork bomb",
            "python3 -c 'x = bytearray(3 * 1024**3)'",
            "echo alive after the memory bomb",
            "head -c 50000000 /dev/zero | tr '\\0' a",
            "echo alive after the flood",
        )
    )
    sid, status = run_to_end(daemon, model, image=None, limits=Limits(memory_mb=512, pids=128))
    sessions_cleanup.append(sid)
    assert status == "completed", daemon.session(sid).reason
    finished = events(daemon, sid, "tool.finished")
    bomb, alive1, memory, alive2, flood, alive3 = (e.data for e in finished)
    assert bomb["timed_out"] or bomb["exit_code"] != 0
    assert alive1["output"].startswith("alive after the fork bomb")
    assert "[killed: out of memory]" in memory["output"]
    assert alive2["output"].startswith("alive after the memory bomb")
    assert len(flood["output"].encode()) <= 64_000
    kept = paths.artifacts / flood["artifact"]
    assert kept.stat().st_size == 16 * 1024 * 1024  # of 50 MB, what the host keeps
    assert "first 16777216 bytes in" in flood["output"]
    assert alive3["output"].startswith("alive after the flood")
    assert_alive(daemon)


def test_the_sandbox_holds_no_secret_of_the_daemon(
    spawn_daemon: SpawnDaemon, model: HostileModelServer, sessions_cleanup: list[str]
) -> None:
    secret = "sk-hostile-0123456789abcdef"
    client = spawn_daemon(env={"OPENAI_API_KEY": secret, "AGENTCTL_TOKEN": secret}).wait_ready()
    model.send(
        one_step(
            "env; cat /proc/1/environ /proc/*/environ 2>/dev/null | tr '\\0' '\\n'",
            "ls -la /var/run/docker.sock /run/docker.sock 2>&1; cat /proc/1/cmdline | tr '\\0' ' '",
        )
    )
    sid, status = run_to_end(client, model, image=None)
    sessions_cleanup.append(sid)
    assert status == "completed"
    env, sockets = outputs(client, sid)
    assert secret not in env and "AGENTCTL" not in env
    assert "No such file" in sockets
    everything = "".join(e.model_dump_json() for e in events(client, sid))
    assert secret not in everything
    client.close()


def test_tool_output_cannot_drive_the_terminal(
    daemon: Client, model: HostileModelServer, cli: Run, sessions_cleanup: list[str]
) -> None:
    model.send(one_step("printf 'ok \\033]52;c;ZXZpbA==\\007\\033[2J\\033[?1049h\\r'"))
    sid, status = run_to_end(daemon, model, image=None)
    sessions_cleanup.append(sid)
    assert status == "completed"
    for color in ({"NO_COLOR": "1"}, {"FORCE_COLOR": "1"}):
        shown = cli("log", sid, **color).stdout
        assert "\x1b]" not in shown and "\x07" not in shown and "\x1b[2J" not in shown
        assert "\\x1b]52;c;ZXZpbA==\\x07" in shown


def test_a_read_only_mount_cannot_change_the_host_folder(
    daemon: Client, model: HostileModelServer, tmp_path: Path, sessions_cleanup: list[str]
) -> None:
    tmp_path.chmod(0o755)  # the sandbox user may read it (pytest makes it 0700)
    (tmp_path / "README").write_text("mine\n")
    model.send(
        one_step(
            "cat README",
            "echo evil > README; mkdir -p .git/hooks && echo 'echo owned' > .git/hooks/pre-commit",
        )
    )
    sid, status = run_to_end(
        daemon, model, image=None, workspace=str(tmp_path), mount_read_only=True
    )
    sessions_cleanup.append(sid)
    assert status == "completed", daemon.session(sid).reason
    read, write = outputs(daemon, sid)
    assert read.startswith("mine")
    assert "Read-only file system" in write
    assert (tmp_path / "README").read_text() == "mine\n"
    assert not (tmp_path / ".git").exists()


def test_mount_warns_loudly(daemon: Client, cli: Run, tmp_path: Path) -> None:
    result = cli("run", "t", "--workspace", str(tmp_path), "--mount", "--image", "none")
    assert "warning: --mount gives the agent your real folder" in result.stderr
    assert ".git/hooks/" in result.stderr
    assert "DANGER" in cli("run", "--help", COLUMNS="200").stdout


def test_data_state_and_config_are_private(daemon: Client, paths: Paths) -> None:
    for folder in (paths.data, paths.state, paths.config, paths.artifacts, paths.runtime):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    for file in (paths.database, paths.daemon_log, paths.lock):
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
