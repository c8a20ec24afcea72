"""File tools: reading, writing, editing, listing, all confined to /workspace."""

from __future__ import annotations

import pytest

from sandboxes import (
    EditError,
    FileEntry,
    FileToolError,
    PathOutsideWorkspaceError,
    Sandbox,
)

pytestmark = pytest.mark.docker


def test_write_then_read(shared_sandbox: Sandbox) -> None:
    shared_sandbox.write_file("deep/er/notes.md", "# notes\nünïcode ✓\n")
    assert shared_sandbox.read_file("deep/er/notes.md") == "# notes\nünïcode ✓\n"
    assert shared_sandbox.read_file("/workspace/deep/er/notes.md") == "# notes\nünïcode ✓\n"
    owner = shared_sandbox.exec("stat -c '%U %U' deep/er/notes.md deep").output.split()
    assert owner == ["agent", "agent", "agent", "agent"]


def test_write_overwrites_and_keeps_exact_bytes(shared_sandbox: Sandbox) -> None:
    shared_sandbox.write_file("exact.txt", "first version, quite long\n")
    shared_sandbox.write_file("exact.txt", "no newline at end")
    assert shared_sandbox.read_file("exact.txt") == "no newline at end"
    shared_sandbox.write_file("empty.txt", "")
    assert shared_sandbox.read_file("empty.txt") == ""
    assert shared_sandbox.exec("wc -c < exact.txt").output.strip() == "17"


def test_exists(shared_sandbox: Sandbox) -> None:
    shared_sandbox.write_file("here.txt", "x")
    assert shared_sandbox.file_exists("here.txt")
    assert shared_sandbox.file_exists(".")
    assert not shared_sandbox.file_exists("nowhere.txt")
    with pytest.raises(PathOutsideWorkspaceError):
        shared_sandbox.file_exists("../etc/passwd")


def test_read_errors_are_readable(shared_sandbox: Sandbox) -> None:
    with pytest.raises(FileToolError, match="does not exist"):
        shared_sandbox.read_file("missing.txt")
    shared_sandbox.exec("mkdir -p adir")
    with pytest.raises(FileToolError, match="is a directory"):
        shared_sandbox.read_file("adir")
    with pytest.raises(FileToolError, match="is a directory"):
        shared_sandbox.write_file("adir", "x")
    shared_sandbox.exec("head -c 5000 /dev/zero > big.bin")
    with pytest.raises(FileToolError, match="5000 bytes, more than the 100 bytes"):
        shared_sandbox.read_file("big.bin", max_bytes=100)


def test_edit_replaces_exactly_one_occurrence(shared_sandbox: Sandbox) -> None:
    shared_sandbox.write_file("code.py", "def f():\n    return 1\n\ndef g():\n    return 1\n")
    new = shared_sandbox.edit_file("code.py", "def f():\n    return 1", "def f():\n    return 2")
    assert new == "def f():\n    return 2\n\ndef g():\n    return 1\n"
    assert shared_sandbox.read_file("code.py") == new
    with pytest.raises(EditError, match="occurs 2 times"):
        shared_sandbox.edit_file("code.py", "return", "yield")
    with pytest.raises(EditError, match="not found"):
        shared_sandbox.edit_file("code.py", "return 3", "return 4")
    with pytest.raises(EditError, match="empty"):
        shared_sandbox.edit_file("code.py", "", "x")
    assert shared_sandbox.read_file("code.py") == new


def test_list_files(shared_sandbox: Sandbox) -> None:
    shared_sandbox.exec(
        "rm -rf tree && mkdir -p tree/a/b/c && echo hi > tree/a/f.txt && ln -s a tree/link"
    )
    entries = shared_sandbox.list_files("tree", max_depth=2)
    assert entries == [
        FileEntry("tree/a", "dir", entries[0].size),
        FileEntry("tree/a/b", "dir", entries[1].size),
        FileEntry("tree/a/f.txt", "file", 3),
        FileEntry("tree/link", "symlink", 1),
    ]
    assert len(shared_sandbox.list_files("tree", max_depth=10, limit=2)) == 2
    everything = {e.path for e in shared_sandbox.list_files(".", max_depth=5)}
    assert "tree/a/b/c" in everything
    with pytest.raises(FileToolError, match="does not exist"):
        shared_sandbox.list_files("no-such-dir")


@pytest.mark.parametrize(
    "path",
    ["../etc/passwd", "/etc/passwd", "evil/passwd", "passwd-link", "a/../../etc/passwd", "/", ".."],
)
def test_paths_outside_the_workspace_are_refused(shared_sandbox: Sandbox, path: str) -> None:
    shared_sandbox.exec("ln -sfn /etc evil; ln -sfn /etc/passwd passwd-link")
    with pytest.raises(PathOutsideWorkspaceError, match="outside /workspace"):
        shared_sandbox.read_file(path)
    with pytest.raises(PathOutsideWorkspaceError):
        shared_sandbox.write_file(path, "pwned")
    with pytest.raises(PathOutsideWorkspaceError):
        shared_sandbox.edit_file(path, "root", "toor")
    with pytest.raises(PathOutsideWorkspaceError):
        shared_sandbox.list_files(path)


def test_a_dangling_symlink_out_cannot_be_written_through(shared_sandbox: Sandbox) -> None:
    shared_sandbox.exec("ln -sfn /tmp/planted dangling")
    with pytest.raises(PathOutsideWorkspaceError):
        shared_sandbox.write_file("dangling", "x")
    assert shared_sandbox.exec("test -e /tmp/planted; echo $?").output == "1\n"


def test_symlinks_inside_the_workspace_are_fine(shared_sandbox: Sandbox) -> None:
    shared_sandbox.write_file("real/target.txt", "inside\n")
    shared_sandbox.exec("ln -sfn real alias")
    assert shared_sandbox.read_file("alias/target.txt") == "inside\n"
    assert shared_sandbox.read_file("/workspace/real/../real/target.txt") == "inside\n"
