"""diff, apply and cp against a real daemon, real containers and a real git repository."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agentctl.client import Client
from agentctl.paths import Paths
from agentctl.protocol import ApplyRequest, CreateSession, GcRequest
from tests.support.daemon import wait_status
from tests.support.fork import final, shell

pytestmark = pytest.mark.docker

Recording = Callable[[str, list[dict[str, Any]]], str]
Cli = Callable[..., subprocess.CompletedProcess[str]]


def git(folder: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t"}
    env |= {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    done = subprocess.run(
        ["git", "-C", str(folder), *args], capture_output=True, text=True, env=env, check=True
    )
    return done.stdout.strip()


def files_of(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(folder).parts
    }


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    (folder / "src").mkdir(parents=True)
    (folder / "src" / "app.py").write_text("print('hello')\nprint('world')\n")
    (folder / "old_name.txt").write_text("a file that will move\n")
    (folder / "gone.txt").write_text("a file that will be deleted\n")
    (folder / "run.sh").write_text("#!/bin/sh\necho run\n")
    (folder / "logo.bin").write_bytes(b"\x89PNG\x00\x01\x02")
    git(folder, "init", "-q", "-b", "main")
    git(folder, "add", "-A")
    git(folder, "commit", "-q", "-m", "start")
    return folder


STEPS = [
    shell("printf \"print('hello')\\nprint('agentctl')\\n\" > src/app.py", "edit"),
    shell(
        "git mv old_name.txt new_name.txt && rm gone.txt && printf '\\211PNG\\000\\011' > logo.bin"
        " && chmod +x run.sh && mkdir docs && echo notes > docs/notes.md && python -c 'print(6*7)'",
        "more",
    ),
    final(),
]


@pytest.fixture
def session(
    daemon: Client, recording: Recording, sessions_cleanup: list[str], project: Path
) -> str:
    req = CreateSession(
        task="improve the project",
        model=recording("work", STEPS),
        policy="permissive",
        workspace=str(project),
    )
    sid = daemon.create_session(req).id
    sessions_cleanup.append(sid)
    assert wait_status(daemon, sid, "completed", "paused", "failed", timeout=120) == "completed"
    events = list(daemon.events(sid))
    (more,) = [e for e in events if e.type == "tool.finished" and e.data["call_id"] == "more"]
    assert more.data["exit_code"] == 0 and "42" in more.data["output"]  # `python` is there
    return sid


def test_diff_of_edits_renames_deletes_binary_and_modes(
    daemon: Client, session: str, cli: Cli
) -> None:
    diff = daemon.diff(session)
    files = {f.path: f for f in diff.files}
    assert {p: f.status for p, f in files.items()} == {
        "src/app.py": "modified",
        "new_name.txt": "renamed",
        "gone.txt": "deleted",
        "logo.bin": "modified",
        "run.sh": "modified",
        "docs/notes.md": "added",
    }
    assert files["new_name.txt"].old_path == "old_name.txt"
    assert files["logo.bin"].binary
    assert (files["run.sh"].old_mode, files["run.sh"].new_mode) == ("100644", "100755")
    assert diff.source.startswith("checkpoint ")  # ended: its last checkpoint
    # at the first checkpoint only the first step's edit is there
    first = min(int(e.seq) for e in daemon.events(session) if e.type == "checkpoint.created")
    early = daemon.diff(session, at=first)
    assert [f.path for f in early.files] == ["src/app.py"] and early.at == first

    piped = cli("diff", session)
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout == "".join(f.patch for f in diff.files)
    assert "-print('world')\n+print('agentctl')\n" in piped.stdout
    stat = cli("diff", session, "--stat")
    assert "6 files changed" in stat.stdout and "old_name.txt => new_name.txt" in stat.stdout
    as_json = json.loads(cli("diff", session, "--json", "--stat").stdout)
    assert as_json["files"][0]["patch"] == "" and len(as_json["files"]) == 6


def test_a_checkpoint_is_exported_once_and_gc_removes_the_export(
    daemon: Client, session: str, paths: Paths
) -> None:
    exports = paths.data / "workspaces" / "exports"
    first = daemon.diff(session)
    (tar,) = exports.glob(f"{session}.*.tar")
    assert (exports / f"{tar.name}.index.json").is_file()
    made = tar.stat().st_mtime_ns
    again = daemon.diff(session)
    assert again == first and tar.stat().st_mtime_ns == made  # read from the export, not made anew
    applied = daemon.apply(session, ApplyRequest(to=str(paths.data), check=True))
    assert applied.check and tar.stat().st_mtime_ns == made
    # another checkpoint of the session: exported, and the session keeps only that one
    earliest = min(int(e.seq) for e in daemon.events(session) if e.type == "checkpoint.created")
    assert [f.path for f in daemon.diff(session, at=earliest).files] == ["src/app.py"]
    (other,) = exports.glob(f"{session}.*.tar")
    assert other != tar and not (exports / f"{tar.name}.index.json").exists()
    result = daemon.gc(GcRequest(older_than="0s"))
    assert session in result.sessions
    assert f"workspaces/exports/{other.name}" in result.artifacts
    assert list(exports.glob(f"{session}.*")) == []


def test_apply_check_then_apply_onto_the_unchanged_folder(
    daemon: Client, session: str, project: Path, cli: Cli
) -> None:
    before = files_of(project)
    check = cli("apply", session, "--check")
    assert check.returncode == 0, check.stderr
    assert "would write src/app.py" in check.stdout and "would delete gone.txt" in check.stdout
    assert files_of(project) == before
    done = cli("apply", session, "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["applied"] and result["conflicts"] == []
    assert (project / "src" / "app.py").read_text() == "print('hello')\nprint('agentctl')\n"
    assert (project / "new_name.txt").read_text() == "a file that will move\n"
    assert not (project / "old_name.txt").exists() and not (project / "gone.txt").exists()
    assert (project / "logo.bin").read_bytes() == b"\x89PNG\x00\x09"
    assert (project / "run.sh").stat().st_mode & 0o777 == 0o755
    assert (project / "docs" / "notes.md").read_text() == "notes\n"


def test_apply_is_refused_after_the_host_file_changed(
    daemon: Client, session: str, project: Path, cli: Cli
) -> None:
    (project / "src" / "app.py").write_text("print('edited by the user meanwhile')\n")
    before = files_of(project)
    refused = cli("apply", session)
    assert refused.returncode == 1
    assert "src/app.py: changed on the host since the copy" in refused.stderr
    assert "nothing was written" in refused.stderr
    assert files_of(project) == before
    result = daemon.apply(session, ApplyRequest())
    assert not result.applied and [c.path for c in result.conflicts] == ["src/app.py"]


def test_apply_branch_makes_a_real_commit_and_leaves_the_work_tree(
    daemon: Client, session: str, project: Path, cli: Cli
) -> None:
    head = git(project, "rev-parse", "HEAD")
    (project / "src" / "app.py").write_text("uncommitted user work\n")
    done = cli("apply", session, "--branch", "agent/improve")
    assert done.returncode == 0, done.stderr
    commit = git(project, "rev-parse", "agent/improve")
    assert commit in done.stdout
    assert git(project, "rev-parse", "agent/improve^") == head
    assert git(project, "show", "agent/improve:src/app.py") == "print('hello')\nprint('agentctl')"
    assert git(project, "ls-tree", "agent/improve", "run.sh").startswith("100755")
    status = git(project, "diff", "--name-status", "-M", head, "agent/improve").splitlines()
    assert "D\tgone.txt" in status and "A\tdocs/notes.md" in status
    assert "improve the project" in git(project, "log", "-1", "--format=%B", "agent/improve")
    assert (project / "src" / "app.py").read_text() == "uncommitted user work\n"
    assert git(project, "rev-parse", "--abbrev-ref", "HEAD") == "main"
    again = cli("apply", session, "--branch", "agent/improve")
    assert again.returncode == 1 and "already exists" in again.stderr


def test_cp_out_and_in_and_the_diff_sees_what_came_in(
    daemon: Client, session: str, tmp_path: Path, cli: Cli
) -> None:
    out = tmp_path / "out.py"
    done = cli("cp", f"{session}:src/app.py", str(out))
    assert done.returncode == 0, done.stderr
    assert out.read_text() == "print('hello')\nprint('agentctl')\n"
    folder = tmp_path / "dl"
    folder.mkdir()
    assert cli("cp", f"{session}:docs", str(folder)).returncode == 0
    assert (folder / "docs" / "notes.md").read_text() == "notes\n"
    outside = cli("cp", f"{session}:../etc/passwd", str(tmp_path / "p"))
    assert outside.returncode == 2 and "outside /workspace" in outside.stderr

    local = tmp_path / "extra.txt"
    local.write_text("from the host\n")
    into = cli("cp", str(local), f"{session}:notes/extra.txt")
    assert into.returncode == 0, into.stderr
    files = {f.path: f.status for f in daemon.diff(session).files}
    assert files["notes/extra.txt"] == "added"
    events = list(daemon.events(session))
    assert [e.type for e in events[-2:]] == ["workspace.copied", "checkpoint.created"]
    assert events[-2].data["path"] == "/workspace/notes/extra.txt"


def test_cp_into_a_session_waiting_for_approval_is_refused(
    daemon: Client, recording: Recording, sessions_cleanup: list[str], tmp_path: Path, cli: Cli
) -> None:
    req = CreateSession(
        task="ask first",
        model=recording("ask", [shell("touch x", "c1"), final()]),
        policy="default",
    )
    sid = daemon.create_session(req).id
    sessions_cleanup.append(sid)
    assert wait_status(daemon, sid, "waiting", "failed", timeout=120) == "waiting"
    local = tmp_path / "f.txt"
    local.write_text("x\n")
    refused = cli("cp", str(local), f"{sid}:f.txt")
    assert refused.returncode == 1 and "is waiting" in refused.stderr
    assert not any(e.type == "workspace.copied" for e in daemon.events(sid))
    daemon.cancel(sid)


def test_a_missing_image_is_a_usage_error_naming_sandbox_build(daemon: Client, cli: Cli) -> None:
    done = cli("run", "x", "--image", "agentctl-no-such-image:nope", "--detach")
    assert done.returncode == 2
    assert "agentctl-no-such-image:nope" in done.stderr and "agentctl sandbox build" in done.stderr
    assert daemon.sessions() == []
