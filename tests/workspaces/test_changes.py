"""Trees, changes, patches, apply plans and branches on real files, real tars and real git.

No container here: a tar packed from a folder stands for each side (the
copy a session started from, and `/workspace` as exported), exactly the
inputs the runtime gives these functions.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from agentctl.errors import ConflictError
from agentctl.workspace import apply as applying
from agentctl.workspace.changes import compare, describe
from agentctl.workspace.git import commit_branch, head_of
from agentctl.workspace.tree import Tree, read_tree
from sandboxes import pack_folder


def tree_of(folder: Path, tmp: Path, name: str) -> Tree:
    archive = tmp / f"{name}.tar"
    with open(archive, "wb") as handle:
        pack_folder(folder, handle)
    return read_tree(archive)


def git(folder: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
    }
    done = subprocess.run(
        ["git", "-C", str(folder), *args], capture_output=True, text=True, env=env, check=True
    )
    return done.stdout.strip()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    (folder / "src").mkdir(parents=True)
    (folder / "src" / "app.py").write_text("print('hello')\nprint('world')\n")
    (folder / "README.md").write_text("# project\n")
    (folder / "old_name.txt").write_text("a file that will move\n")
    (folder / "gone.txt").write_text("a file that will be deleted\n")
    (folder / "run.sh").write_text("#!/bin/sh\necho run\n")
    (folder / "logo.bin").write_bytes(b"\x89PNG\x00\x01\x02")
    git(folder, "init", "-q", "-b", "main")
    git(folder, "add", "-A")
    git(folder, "commit", "-q", "-m", "start")
    return folder


def edit(copy: Path) -> None:
    """What an agent might do: an edit, a rename, a deletion, a binary change, a chmod, a new file."""
    (copy / "src" / "app.py").write_text("print('hello')\nprint('agentctl')\n")
    (copy / "old_name.txt").rename(copy / "new_name.txt")
    (copy / "gone.txt").unlink()
    (copy / "logo.bin").write_bytes(b"\x89PNG\x00\x09\x09\x09")
    (copy / "run.sh").chmod(0o755)
    (copy / "docs").mkdir()
    (copy / "docs" / "notes.md").write_text("no newline at the end")
    (copy / ".git" / "agent-was-here").write_text("internals are not a change\n")


@pytest.fixture
def changed(project: Path, tmp_path: Path) -> tuple[Tree, Tree, Path]:
    base = tree_of(project, tmp_path, "base")
    copy = tmp_path / "copy"
    subprocess.run(["cp", "-a", str(project), str(copy)], check=True)
    edit(copy)
    return base, tree_of(copy, tmp_path, "now"), copy


def test_diff_sees_edits_renames_deletes_binary_and_modes(changed: tuple[Tree, Tree, Path]) -> None:
    base, now, _ = changed
    files = {f.path: f for f in (describe(c) for c in compare(base, now))}
    assert set(files) == {
        "src/app.py",
        "new_name.txt",
        "gone.txt",
        "logo.bin",
        "run.sh",
        "docs/notes.md",
    }
    app = files["src/app.py"]
    assert (app.status, app.additions, app.deletions) == ("modified", 1, 1)
    assert "-print('world')\n+print('agentctl')\n" in app.patch
    renamed = files["new_name.txt"]
    assert (renamed.status, renamed.old_path) == ("renamed", "old_name.txt")
    assert "rename from old_name.txt\nrename to new_name.txt\n" in renamed.patch
    assert files["gone.txt"].status == "deleted"
    assert "deleted file mode 100644" in files["gone.txt"].patch
    logo = files["logo.bin"]
    assert logo.binary and "Binary files a/logo.bin and b/logo.bin differ" in logo.patch
    run = files["run.sh"]
    assert (run.old_mode, run.new_mode) == ("100644", "100755")
    assert "old mode 100644\nnew mode 100755\n" in run.patch
    notes = files["docs/notes.md"]
    assert notes.status == "added" and "\\ No newline at end of file" in notes.patch
    assert not any(".git" in p.split("/") for p in files)


def test_text_patch_applies_with_git(changed: tuple[Tree, Tree, Path], project: Path) -> None:
    base, now, copy = changed
    patch = "".join(describe(c).patch for c in compare(base, now) if c.path != "logo.bin")
    subprocess.run(["git", "-C", str(project), "apply", "-"], input=patch.encode(), check=True)
    assert (project / "src" / "app.py").read_text() == (copy / "src" / "app.py").read_text()
    assert (project / "new_name.txt").exists() and not (project / "old_name.txt").exists()
    assert os.access(project / "run.sh", os.X_OK)


def test_apply_onto_the_unchanged_folder_makes_it_the_session_s(
    changed: tuple[Tree, Tree, Path], project: Path
) -> None:
    base, now, copy = changed
    plan = applying.plan(compare(base, now), project)
    assert plan.conflicts == []
    applying.write(plan, project)
    for rel in ("src/app.py", "new_name.txt", "docs/notes.md"):
        assert (project / rel).read_bytes() == (copy / rel).read_bytes()
    assert (project / "logo.bin").read_bytes() == b"\x89PNG\x00\x09\x09\x09"
    assert not (project / "gone.txt").exists() and not (project / "old_name.txt").exists()
    assert (project / "run.sh").stat().st_mode & 0o777 == 0o755
    # a second apply finds everything already there: nothing to do, nothing refused
    again = applying.plan(compare(base, now), project)
    assert again.conflicts == [] and again.writes == [] and again.deletes == []


def test_apply_refuses_when_host_files_changed_since_the_copy(
    changed: tuple[Tree, Tree, Path], project: Path
) -> None:
    base, now, _ = changed
    (project / "src" / "app.py").write_text("print('the user edited this meanwhile')\n")
    (project / "gone.txt").write_text("and this\n")
    (project / "docs").mkdir()
    (project / "docs" / "notes.md").write_text("the user made this too\n")
    before = {
        p: p.read_bytes() for p in project.rglob("*") if p.is_file() and ".git" not in p.parts
    }
    plan = applying.plan(compare(base, now), project)
    assert {(c.path, c.reason) for c in plan.conflicts} == {
        ("src/app.py", "changed on the host since the copy"),
        ("gone.txt", "changed on the host since the copy"),
        ("docs/notes.md", "exists on the host but not in the copy the session started from"),
    }
    after = {p: p.read_bytes() for p in project.rglob("*") if p.is_file() and ".git" not in p.parts}
    assert after == before  # planning writes nothing


def test_apply_never_writes_through_a_symlink_or_makes_one_that_leaves(
    tmp_path: Path,
) -> None:
    start, end, target, outside = (tmp_path / n for n in ("start", "end", "target", "outside"))
    for folder in (start, end, target, outside):
        folder.mkdir()
    (end / "sub").mkdir()
    (end / "sub" / "file.txt").write_text("through the link?\n")
    (end / "escape").symlink_to("/etc/passwd")
    (end / "up").symlink_to("../../outside")
    (end / "fine").symlink_to("sub/file.txt")
    (target / "sub").symlink_to(outside)  # the host's sub is a link out of the target
    plan = applying.plan(
        compare(tree_of(start, tmp_path, "a"), tree_of(end, tmp_path, "b")), target
    )
    reasons = {c.path: c.reason for c in plan.conflicts}
    assert reasons["sub/file.txt"] == "sub is a symlink on the host"
    assert "outside the folder" in reasons["escape"] and "outside the folder" in reasons["up"]
    assert [p for p, _ in plan.writes] == ["fine"]
    assert list(outside.iterdir()) == []


def test_tree_drops_member_names_that_leave_the_tree(tmp_path: Path) -> None:
    import io
    import tarfile

    archive = tmp_path / "evil.tar"
    with tarfile.open(archive, "w") as tar:
        for name in ("../escape.txt", "/etc/cron.d/x", "ok/../../x", "fine.txt", "a/.git/config"):
            info = tarfile.TarInfo(name)
            info.size = 2
            tar.addfile(info, io.BytesIO(b"hi"))
    assert set(read_tree(archive)) == {"fine.txt"}


def test_branch_is_a_real_commit_on_the_head_the_copy_had(
    changed: tuple[Tree, Tree, Path], project: Path
) -> None:
    base, now, _ = changed
    head = head_of(project)
    assert head is not None
    (project / "README.md").write_text("# uncommitted user work\n")  # must stay untouched
    plan = applying.Plan()
    for change in compare(base, now):
        if change.old_path:
            plan.deletes.append(change.old_path)
        if change.new is None:
            plan.deletes.append(change.path)
        else:
            plan.writes.append((change.path, change.new))
    commit = commit_branch(project, "agent/work", head, plan, "agentctl: test\n")
    assert git(project, "rev-parse", "agent/work") == commit
    assert git(project, "rev-parse", "agent/work^") == head
    assert git(project, "show", "agent/work:src/app.py") == "print('hello')\nprint('agentctl')"
    names = git(project, "diff", "--name-status", "-M", head, "agent/work").splitlines()
    assert "D\tgone.txt" in names and "A\tdocs/notes.md" in names
    assert any(line.startswith("R100\told_name.txt\tnew_name.txt") for line in names)
    assert git(project, "ls-tree", "agent/work", "run.sh").startswith("100755")
    assert git(project, "rev-parse", "--abbrev-ref", "HEAD") == "main"
    assert (project / "README.md").read_text() == "# uncommitted user work\n"
    assert git(project, "status", "--porcelain") == "M README.md"
    with pytest.raises(ConflictError, match="already exists"):
        commit_branch(project, "agent/work", head, plan, "again\n")
